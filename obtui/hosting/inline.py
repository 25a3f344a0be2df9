"""Run an engine inline: on this thread's event loop, stopped by SIGINT/SIGTERM, reloaded by SIGHUP.

This is how `obtui --headless` hosts its engine; the CLI adds only what it prints. Under systemd
(`$NOTIFY_SOCKET`) it speaks the notify protocol (`obtui.hosting.sdnotify`).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from obtui.api.snapshot import EngineSnapshot
from obtui.engine.engine import Engine
from obtui.hosting.sdnotify import Notifier
from obtui.hosting.signals import install_stop_signals


def run_inline(
    engine: Engine,
    *,
    on_signal: Callable[[signal.Signals, bool], None] | None = None,
    tick: Callable[[], None] | None = None,
    tick_seconds: float = 5.0,
    status: Callable[[EngineSnapshot], str] | None = None,
) -> int:
    """Run `engine` until it stops (a signal, or caught up when it was built with once=True) and
    return its exit code. Must be called on the main thread. `on_signal(sig, force)` is called on
    each stop signal; `tick()`, when given, every `tick_seconds` while the engine runs.
    `status(snapshot)` is the one-line status systemd shows (STATUS=)."""
    return asyncio.run(_run(engine, on_signal, tick, tick_seconds, status))


async def _run(
    engine: Engine,
    on_signal: Callable[[signal.Signals, bool], None] | None,
    tick: Callable[[], None] | None,
    tick_seconds: float,
    status: Callable[[EngineSnapshot], str] | None,
) -> int:
    notifier = Notifier.from_env()  # systemd Type=notify
    signalled = on_signal
    if notifier is not None:

        def signalled(sig: signal.Signals, force: bool) -> None:
            assert notifier is not None
            notifier.stopping(f"stopping ({sig.name})")
            if on_signal is not None:
                on_signal(sig, force)

    install_stop_signals(asyncio.get_running_loop(), engine, reload=engine.reload, on_signal=signalled)
    ticker = asyncio.create_task(_every(tick_seconds, tick)) if tick is not None else None
    notify = None
    if notifier is not None:
        notify = asyncio.create_task(notifier.run(engine.snapshot, status or (lambda snap: snap.state)))
    try:
        return await engine.run()
    finally:
        for task in (ticker, notify):
            if task is not None:
                task.cancel()
        if notifier is not None:
            notifier.stopping()
            notifier.close()


async def _every(seconds: float, fn: Callable[[], None]) -> None:
    while True:
        await asyncio.sleep(seconds)
        fn()
