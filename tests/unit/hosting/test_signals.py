"""The one stop-signal helper, with real signals delivered to this process's event loop."""

from __future__ import annotations

import asyncio
import os
import signal

from obtui.hosting.signals import install_stop_signals


class Recorder:
    def __init__(self) -> None:
        self.stops: list[bool] = []

    def request_stop(self, force: bool = False) -> None:
        self.stops.append(force)


async def _deliver(sig: signal.Signals) -> None:
    os.kill(os.getpid(), sig)
    for _ in range(100):  # the loop runs the handler on its next turn
        await asyncio.sleep(0)


def test_first_signal_stops_gracefully_the_second_forces_and_sighup_reloads() -> None:
    engine = Recorder()
    reloads: list[int] = []
    told: list[tuple[str, bool]] = []

    async def main() -> None:
        remove = install_stop_signals(
            asyncio.get_running_loop(),
            engine,
            reload=lambda: reloads.append(1),
            on_signal=lambda sig, force: told.append((sig.name, force)),
        )
        try:
            await _deliver(signal.SIGHUP)
            assert reloads == [1] and engine.stops == []
            await _deliver(signal.SIGTERM)
            await _deliver(signal.SIGINT)
        finally:
            remove()

    previous = signal.getsignal(signal.SIGHUP)
    asyncio.run(main())
    assert engine.stops == [False, True]
    assert told == [("SIGTERM", False), ("SIGINT", True)]
    assert signal.getsignal(signal.SIGHUP) == previous  # the handlers are gone again


def test_without_reload_sighup_is_left_alone() -> None:
    before = signal.getsignal(signal.SIGHUP)

    async def main() -> None:
        remove = install_stop_signals(asyncio.get_running_loop(), Recorder())
        try:
            assert signal.getsignal(signal.SIGHUP) == before
            assert signal.getsignal(signal.SIGTERM) != signal.SIG_DFL
        finally:
            remove()

    asyncio.run(main())
