"""Hot reload: swap rules, ignores, runner settings and buckets without a restart, follow the
config file (or SIGHUP), and put rejected configs on record.

A valid file replaces rules, ignores and buckets at once; an invalid one keeps the previous
rules in force and goes on record as a Configuration error naming the key and line.
`Reloader` owns the configuration in force (and its matcher); runs on the engine loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obtui.api.control import ReloadDiff
from obtui.config.errors import ConfigError
from obtui.config.loader import load_config
from obtui.config.model import BucketConfig, Config, RunnerConfig
from obtui.engine.errors import ConfigReloadError
from obtui.engine.jobs import ScanReason
from obtui.engine.pipeline.patterns import Matcher
from obtui.engine.records import error_record
from obtui.tracking.records import ErrorRecord

log = logging.getLogger("obtui.engine")
config_log = logging.getLogger("obtui.config")


def diff_configs(old: Config, new: Config) -> ReloadDiff:
    """What changed between two configurations, by rule name and bucket path."""
    o = {r.name: r for r in old.rules}
    n = {r.name: r for r in new.rules}

    def same(a: Any, b: Any) -> bool:
        return dataclasses.replace(a, line=None) == dataclasses.replace(b, line=None)

    ob = {str(b.path) for b in old.buckets}
    nb = {str(b.path) for b in new.buckets}
    runner = tuple(
        f.name
        for f in dataclasses.fields(old.runner)
        if getattr(old.runner, f.name) != getattr(new.runner, f.name)
    )
    return ReloadDiff(
        rules_added=tuple(k for k in n if k not in o),
        rules_removed=tuple(k for k in o if k not in n),
        rules_changed=tuple(k for k in n if k in o and not same(o[k], n[k])),
        buckets_added=tuple(sorted(nb - ob)),
        buckets_removed=tuple(sorted(ob - nb)),
        runner_changed=runner,
    )


@dataclass
class ReloadHooks:
    """How a reload reaches the running engine (all called on the engine loop)."""

    runner: Callable[[RunnerConfig], None]  # retune the intake and the dispatcher
    bucket_added: Callable[[BucketConfig], None]
    bucket_removed: Callable[[str], None]
    rescan_all: Callable[[ScanReason], None]
    record_error: Callable[[ErrorRecord], Coroutine[Any, Any, None]]
    store_changed: Callable[[], None] | None = None  # [store] changed: apply the retention now


class Reloader:
    """The configuration in force, and every way it changes."""

    def __init__(self, config: Config, cli_buckets: list[Path]) -> None:
        self.config = config
        self.matcher = Matcher(config)
        self.last_reload: str | None = None
        self._cli_buckets = list(cli_buckets)
        self._hooks: ReloadHooks | None = None

    def connect(self, hooks: ReloadHooks) -> None:
        """The engine is running: from now on a new config is applied to it, not only kept."""
        self._hooks = hooks

    def apply(self, config: Config) -> ReloadDiff:
        """Swap in `config`; once connected, retune the engine and rescan. Returns what changed."""
        diff = diff_configs(self.config, config)
        old, self.config, self.matcher = self.config, config, Matcher(config)
        h = self._hooks
        if h is None:
            return diff
        h.runner(config.runner)
        old_paths = {str(b.path) for b in old.buckets}
        for b in config.buckets:
            if str(b.path) not in old_paths:
                h.bucket_added(b)
        new_paths = {str(b.path) for b in config.buckets}
        for p in old_paths - new_paths:
            h.bucket_removed(p)
        self.last_reload = f"{time.strftime('%H:%M:%S')}: {diff.summary()}"
        log.info("config reloaded: %s", diff.summary())
        if not diff.empty:
            h.rescan_all("reload")
        if old.store != config.store and h.store_changed is not None:
            log.info("[store] keep is now %s", config.store.keep or "unset (keep every record)")
            h.store_changed()
        return diff

    async def apply_async(self, config: Config) -> ReloadDiff:
        return self.apply(config)

    async def record_config_error(self, message: str, source: str | None) -> None:
        """A reload that failed validation: the old rules stay; the failure goes on record."""
        self.last_reload = f"{time.strftime('%H:%M:%S')}: rejected ({message.splitlines()[0]})"
        if self._hooks is not None:
            rec = error_record(ConfigReloadError(message), path=source, bucket=None, rule=None)
            await self._hooks.record_error(rec)

    async def reload_from_file(self, path: Path) -> bool:
        """Load `path` and apply it (with the CLI's buckets added). False when it was invalid."""
        from obtui.config.overrides import with_cli_buckets

        try:
            config = await asyncio.to_thread(load_config, path, required=True)
            config = with_cli_buckets(config, self._cli_buckets, must_exist=False)
        except ConfigError as exc:
            config_log.warning("config reload rejected: %s", exc)
            await self.record_config_error(str(exc), str(path))
            return False
        self.apply(config)
        return True

    async def follow(self, path: Path, interval: float = 1.0) -> None:
        """Poll the config file's mtime; reload when it changes, and put it on record when the
        file disappears (the running rules stay; the file coming back is a change like any other)."""
        last = _mtime(path)
        if last is None:  # gone already between loading it and now
            await self._config_gone(path)
        while True:
            await asyncio.sleep(interval)
            now = _mtime(path)
            if now == last:
                continue
            last = now
            if now is None:
                await self._config_gone(path)
            else:
                await self.reload_from_file(path)

    async def _config_gone(self, path: Path) -> None:
        from obtui.config.loader import config_gone_message

        message = config_gone_message(path)
        config_log.warning("%s", message)
        await self.record_config_error(message, str(path))


def _mtime(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None
