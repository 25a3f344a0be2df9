"""Hot reload: pick up edits to the config file (or SIGHUP) without a restart.

A valid file replaces rules, ignores and buckets at once; an invalid one keeps the previous
rules in force and goes on record as a Configuration error naming the key and line.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from obtui.engine.engine import Engine

log = logging.getLogger("obtui.config")


def _mtime(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


async def reload_from_file(engine: Engine, path: Path) -> bool:
    """Load `path` and apply it (with the CLI's buckets added). False when it was invalid."""
    from obtui.config.errors import ConfigError
    from obtui.config.loader import load_config

    try:
        config = await asyncio.to_thread(load_config, path, required=True)
    except ConfigError as exc:
        log.warning("config reload rejected: %s", exc)
        await engine.reloader.record_config_error(str(exc), str(path))
        return False
    config = config.with_buckets(engine.cli_buckets)
    engine.apply_config(config)
    return True


async def follow_config(engine: Engine, path: Path, interval: float = 1.0) -> None:
    """Poll the config file's mtime and reload when it changes."""
    last = _mtime(path)
    while True:
        await asyncio.sleep(interval)
        now = _mtime(path)
        if now != last and now is not None:
            last = now
            await reload_from_file(engine, path)
