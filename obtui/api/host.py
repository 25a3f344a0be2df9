"""What the TUI needs from the thing that runs the engine: control plus a thread lifecycle."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from obtui.api.control import EngineControl


@runtime_checkable
class EngineHost(EngineControl, Protocol):
    """An engine running apart from the UI: in a child process (`obtui.hosting.process.
    EngineProcess`, what `obtui DIR` uses) or on a thread and loop of its own in this process
    (`obtui.hosting.thread.EngineThread`).

    Every method is safe to call from the UI thread: `snapshot`, `pause`, `resume`, `rescan` and
    `request_stop` never block; `apply_config` may block briefly, so the TUI calls it from a thread
    worker; `join` blocks up to `timeout`, so the TUI calls it from a thread worker too.
    """

    def start(self) -> None:
        """Start the engine on its own thread and loop; returns at once."""
        ...

    def request_stop(self, force: bool = False) -> None:
        """Graceful stop (in-flight work finishes, the rest stays pending); `force` cancels it."""
        ...

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the engine thread to end; True when it has ended."""
        ...
