"""The full-screen Textual dashboard: a thin client of the engine (`make_app` in `obtui.tui.app`).

Everything that imports Textual lives below this package, so the engine, the CLI's report modes
and the headless runner never load it.
"""
