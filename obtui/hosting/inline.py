"""Run an engine inline: on this thread's event loop, stopped by SIGINT/SIGTERM, reloaded by SIGHUP.

This is how `obtui --headless` hosts its engine; the CLI adds only what it prints.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from obtui.engine.engine import Engine
from obtui.hosting.signals import install_stop_signals


def run_inline(
    engine: Engine,
    *,
    on_signal: Callable[[signal.Signals, bool], None] | None = None,
    tick: Callable[[], None] | None = None,
    tick_seconds: float = 5.0,
) -> int:
    """Run `engine` until it stops (a signal, or caught up when it was built with once=True) and
    return its exit code. Must be called on the main thread. `on_signal(sig, force)` is called on
    each stop signal; `tick()`, when given, every `tick_seconds` while the engine runs."""
    return asyncio.run(_run(engine, on_signal, tick, tick_seconds))


async def _run(
    engine: Engine,
    on_signal: Callable[[signal.Signals, bool], None] | None,
    tick: Callable[[], None] | None,
    tick_seconds: float,
) -> int:
    install_stop_signals(asyncio.get_running_loop(), engine, reload=engine.reload, on_signal=on_signal)
    ticker = asyncio.create_task(_every(tick_seconds, tick)) if tick is not None else None
    try:
        return await engine.run()
    finally:
        if ticker is not None:
            ticker.cancel()


async def _every(seconds: float, fn: Callable[[], None]) -> None:
    while True:
        await asyncio.sleep(seconds)
        fn()
