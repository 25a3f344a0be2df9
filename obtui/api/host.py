"""What the TUI needs from the thing that runs the engine: control plus a lifecycle."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from obtui.api.control import EngineControl


@runtime_checkable
class EngineHost(EngineControl, Protocol):
    """An engine running apart from the UI: in a child process (`obtui.hosting.process.
    EngineProcess`, what `obtui DIR` uses) or on a thread and loop of its own in this process
    (`obtui.hosting.thread.EngineThread`).

    Every method is safe to call from the UI thread: `snapshot`, `pause`, `resume`, `rescan`,
    `request_stop`, `record_config_error` and `kill` never block; `apply_config` may block briefly,
    so the TUI calls it from a thread worker; `join` blocks up to `timeout`, so the TUI calls it
    from a thread worker too.
    """

    @property
    def error(self) -> BaseException | None:
        """Why the engine ended, once it has ended with an error; else None."""
        ...

    @property
    def exit_code(self) -> int | None:
        """The engine's exit code (0, 1 when files failed, 2), once it has ended; else None."""
        ...

    @property
    def alive(self) -> bool:
        """True from `start()` until the engine has ended."""
        ...

    def start(self) -> None:
        """Start the engine apart from the caller; returns at once."""
        ...

    def join(self, timeout: float | None = None) -> bool:
        """Wait up to `timeout` seconds for the engine to end; True when it has ended."""
        ...

    def record_config_error(self, message: str, source: str | None) -> None:
        """Put a rejected config edit on record (Configuration category); never blocks."""
        ...

    def kill(self) -> None:
        """Last resort when a forced stop did not end the engine; a no-op where it cannot apply."""
        ...
