"""Run an Engine on its own thread and event loop, so that its blocking work (SQLite, hashing,
file I/O) can never stall a UI. Implements `obtui.api.host.EngineHost`."""

from __future__ import annotations

import asyncio
import logging
import threading

from obtui.api.control import ReloadDiff
from obtui.api.snapshot import EngineSnapshot
from obtui.config.model import Config
from obtui.engine.engine import Engine

log = logging.getLogger("obtui.engine")


class EngineThread:
    """`start()` returns at once; `join()` waits for the engine to finish its graceful stop."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.error: BaseException | None = None
        self.exit_code: int | None = None
        self._thread = threading.Thread(target=self._main, name="obtui-engine", daemon=True)

    def _main(self) -> None:
        try:
            self.exit_code = asyncio.run(self.engine.run())
        except BaseException as exc:  # surfaced to the UI via .error
            self.error = exc
            log.exception("engine stopped with an error")

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # EngineControl, delegated (all thread-safe on the engine side)
    def snapshot(self) -> EngineSnapshot:
        return self.engine.snapshot()

    def pause(self) -> None:
        self.engine.pause()

    def resume(self) -> None:
        self.engine.resume()

    def rescan(self) -> None:
        self.engine.rescan()

    def apply_config(self, config: Config) -> ReloadDiff:
        return self.engine.apply_config(config)

    def request_stop(self, force: bool = False) -> None:
        self.engine.request_stop(force)

    def record_config_error(self, message: str, source: str | None) -> None:
        """Put a rejected config edit on record (Configuration category); does not block."""
        self.engine.record_config_error(message, source)

    def kill(self) -> None:
        """A thread cannot be killed: the most it can do is force the stop."""
        self.engine.request_stop(force=True)
