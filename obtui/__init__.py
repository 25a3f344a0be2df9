"""obtui: Open Buckets TUI, a drop-folder runner.

Kept import-free on purpose: `obtui --report` must start fast and must never pull in Textual.
"""

__version__ = "0.1.0"
