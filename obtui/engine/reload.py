"""Hot reload: swap rules, ignores, runner settings and buckets without a restart, and put
rejected configs on record. Part of `Engine` (a mixin); runs on the engine loop.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from obtui.api.control import ReloadDiff
from obtui.config.model import Config
from obtui.engine.pipeline.patterns import Matcher
from obtui.engine.publish import diff_configs

if TYPE_CHECKING:
    from obtui.engine.engine import Engine

log = logging.getLogger("obtui.engine")


class Reloader:
    """Owned by the Engine; works on its state."""

    def __init__(self, engine: Engine) -> None:
        self.e = engine

    # ---- reload -------------------------------------------------------------------------------

    async def _apply_async(self, config: Config) -> ReloadDiff:
        diff = diff_configs(self.e.config, config)
        self._apply(config, diff)
        return diff

    def _apply(self, config: Config, diff: ReloadDiff) -> None:
        old = self.e.config
        self.e.config = config
        self.e.matcher = Matcher(config)
        r = config.runner
        self.e.intake.configure(r.debounce_ms / 1000, r.max_delay_ms / 1000)
        self.e.dispatcher.capacity = r.max_queue_size
        self.e.dispatcher.set_concurrency(r.concurrency)
        old_paths = {str(b.path) for b in old.buckets}
        for b in config.buckets:
            if str(b.path) not in old_paths:
                self.e.buckets._start_bucket(b, "bucket-added")
        new_paths = {str(b.path) for b in config.buckets}
        for p in old_paths - new_paths:
            self.e.buckets._stop_bucket(p)
            self.e.missing.pop(p, None)
        self.e.last_reload = f"{time.strftime('%H:%M:%S')}: {diff.summary()}"
        log.info("config reloaded: %s", diff.summary())
        if not diff.empty:
            self.e.buckets.request_scan_all("reload")

    def report_config_error(self, message: str, source: str | None) -> None:
        """Thread-safe `record_config_error` for clients that validate config themselves."""
        self.e._call(lambda: self.e._spawn(self.record_config_error(message, source)))

    async def record_config_error(self, message: str, source: str | None) -> None:
        """A reload that failed validation: the old rules stay; the failure goes on record."""
        from obtui.engine.errors import ProcessingError
        from obtui.engine.records import error_record
        from obtui.tracking.records import Category

        class ConfigReloadError(ProcessingError):
            category = Category.CONFIGURATION
            component = "Config"
            operation = "reloadConfig"
            suggestion = "Fix the config file; the previous rules stay in force until then."

        self.e.last_reload = f"{time.strftime('%H:%M:%S')}: rejected ({message.splitlines()[0]})"
        await self.e._record_error(
            error_record(ConfigReloadError(message), path=source, bucket=None, rule=None)
        )
