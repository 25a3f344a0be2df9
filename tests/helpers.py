"""Shared test helpers: waiting on conditions (never sleeping as synchronisation), running the
real engine on its own thread, and running the real `obtui` binary."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from obtui.config.model import BucketConfig, Config, RuleConfig, RunnerConfig

ROOT = Path(__file__).resolve().parent.parent


def wait_for(cond: Callable[[], Any], timeout: float = 20.0, interval: float = 0.02, what: str = "") -> Any:
    """Poll `cond` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or cond} (last: {last!r})")


def fast_runner(**kw: Any) -> RunnerConfig:
    """Runner settings that keep tests quick (short debounce, retries and breaker reset)."""
    base = dict(
        concurrency=4,
        debounce_ms=200,
        max_delay_ms=3000,
        rescan_seconds=3600,
        retry_base_seconds=0.05,
        retry_max_seconds=0.2,
        breaker_reset_seconds=1.0,
        shutdown_grace_seconds=5.0,
        status_interval_seconds=1.0,
    )
    base.update(kw)
    return RunnerConfig(**base)  # type: ignore[arg-type]


def make_config(buckets: list[Path], rules: list[RuleConfig] | None = None, **runner: Any) -> Config:
    cfg = Config(
        runner=fast_runner(**runner),
        buckets=tuple(BucketConfig(path=Path(b).resolve()) for b in buckets),
    )
    if rules is not None:
        cfg = dataclasses.replace(cfg, rules=tuple(rules))
    return cfg


@contextlib.contextmanager
def running_engine(config: Config, state_dir: Path, **kw: Any) -> Iterator[Any]:
    """The real engine on its own thread and loop; stopped and joined on exit."""
    from obtui.engine.engine import Engine
    from obtui.engine.engine_thread import EngineThread

    engine = Engine(config, state_dir, **kw)
    host = EngineThread(engine)
    host.start()
    try:
        wait_for(lambda: engine.state == "running" or host.error, what="engine start")
        if host.error:
            raise host.error
        # Watchers are started right after the state flips; wait for their observers.
        wait_for(lambda: all(w.alive for w in list(engine.watchers.values())) or engine.once, what="watchers")
        yield engine
    finally:
        host.request_stop()
        assert host.join(30), "engine did not stop within 30 s"
        if host.error:
            raise host.error


def db_rows(state_dir: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(state_dir / "obtui.db", timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def success_count(state_dir: Path) -> int:
    if not (state_dir / "obtui.db").exists():
        return 0
    return db_rows(state_dir, "select count(*) from successes")[0][0]


def obtui(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, **kw: Any
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI (`python -m obtui`) and capture its output."""
    full_env = {**os.environ, "OBTUI_CONFIG": os.devnull + ".missing", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "obtui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=kw.pop("cwd", None),
        **kw,
    )


def write_slowly(path: Path, chunks: list[bytes], pause: float) -> None:
    """A writer that keeps the file open and pauses between chunks (like a slow upload)."""
    with open(path, "wb") as f:
        for i, c in enumerate(chunks):
            f.write(c)
            f.flush()
            if i < len(chunks) - 1:
                time.sleep(pause)  # the writer's own pace, not test synchronisation
