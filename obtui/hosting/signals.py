"""One way to stop an engine on a signal: SIGINT/SIGTERM stop it gracefully, a second one
forces the stop, and SIGHUP (when asked) reloads the config file. Used by the headless mode
and by the engine process."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Protocol

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stoppable(Protocol):
    """What a stop signal acts on: an `Engine`."""

    def request_stop(self, force: bool = False) -> None: ...


def install_stop_signals(
    loop: asyncio.AbstractEventLoop,
    engine: Stoppable,
    *,
    reload: Callable[[], None] | None = None,
    on_signal: Callable[[signal.Signals, bool], None] | None = None,
) -> Callable[[], None]:
    """Handle SIGINT/SIGTERM on `loop` (the main thread's): the first asks `engine` for a graceful
    stop, any later one forces it. `reload`, when given, runs on SIGHUP. `on_signal(sig, force)`
    is called first, for example to tell the user what happens now. Returns a function that
    removes the handlers again."""
    count = 0

    def stop(sig: signal.Signals) -> None:
        nonlocal count
        count += 1
        force = count > 1
        if on_signal is not None:
            on_signal(sig, force)
        engine.request_stop(force=force)

    installed: list[signal.Signals] = []
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop, sig)
        installed.append(sig)
    if reload is not None and hasattr(signal, "SIGHUP"):
        loop.add_signal_handler(signal.SIGHUP, reload)
        installed.append(signal.SIGHUP)

    def remove() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return remove
