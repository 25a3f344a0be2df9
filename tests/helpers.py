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
from typing import TYPE_CHECKING, Any

from obtui.config.model import BucketConfig, Config, RuleConfig, RunnerConfig

if TYPE_CHECKING:
    from obtui.engine.actions.base import ActionContext

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


def action_context(
    bucket: Path,
    path: Path,
    rule: RuleConfig,
    *,
    output_dir: str | None = None,
    matched_pattern: str = "*",
    max_file_size: int = 1 << 30,
    allow_dir: bool = False,
    **fields: Any,
) -> ActionContext:
    """What the processor hands an action for the real file `path` in `bucket`: its facts (stat,
    checks, sha256), its bucket-relative path and its resolved output folder. `fields` sets the
    rest (`attempt`, `obtui_version`, `now_iso`)."""
    from obtui.engine.actions.base import ActionContext
    from obtui.engine.files.facts import inspect_file
    from obtui.engine.files.outputs import resolve_output_dir

    rel = path.relative_to(bucket).as_posix()
    return ActionContext(
        facts=inspect_file(path, bucket, max_file_size, allow_dir=allow_dir),
        bucket=bucket,
        rel=rel,
        rule=rule,
        matched_pattern=matched_pattern,
        output_dir=resolve_output_dir(bucket, path, rel, output_dir),
        **fields,
    )


@contextlib.contextmanager
def running_engine(config: Config, state_dir: Path, **kw: Any) -> Iterator[Any]:
    """The real engine on its own thread and loop; stopped and joined on exit."""
    from obtui.engine.engine import Engine
    from obtui.hosting.thread import EngineThread

    engine = Engine(config, state_dir, **kw)
    host = EngineThread(engine)
    host.start()
    try:
        wait_for(lambda: engine.state == "running" or host.error, what="engine start")
        if host.error:
            raise host.error
        # Watchers are started right after the state flips; wait for their observers.
        wait_for(
            lambda: (
                engine.once
                or (
                    len(engine.watchers) + len(engine.missing) >= len(config.buckets)
                    and all(w.alive for w in list(engine.watchers.values()))
                )
            ),
            what="watchers",
        )
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


# ---- reliability-suite helpers (tests/reliability) ------------------------------------------


def stage_files(folder: Path, n: int, prefix: str = "f", suffix: str = ".txt", start: int = 0) -> list[Path]:
    """Create `n` small distinct files in `folder` (outside any bucket), ready to be moved in."""
    folder.mkdir(parents=True, exist_ok=True)
    width = max(6, len(str(start + n)))
    out = []
    for i in range(start, start + n):
        p = folder / f"{prefix}{i:0{width}d}{suffix}"
        p.write_bytes(f"file {prefix}{i} TODO check\n".encode())
        out.append(p)
    return out


def move_into(files: list[Path], dest: Path) -> list[Path]:
    """`os.rename` every file into `dest` (same filesystem) as fast as possible: one burst."""
    moved = []
    for f in files:
        target = dest / f.name
        os.rename(f, target)
        moved.append(target)
    return moved


def engine_watching(host: Any) -> bool:
    """Running, with every bucket watched (per the latest snapshot of an engine or engine host)."""
    snap = host.snapshot()
    return snap.state == "running" and bool(snap.buckets) and all(b.state == "watching" for b in snap.buckets)


def engine_idle(engine: Any) -> bool:
    """Nothing settling, queued, running, waiting or being scanned (per the latest snapshot)."""
    s = engine.snapshot()
    q = s.queue
    return not (q.settling or q.pending or q.processing or q.waiting or any(x.running for x in s.scans))


def start_headless(
    state: Path,
    *dirs: Path,
    config: Path | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    once: bool = False,
) -> subprocess.Popen[bytes]:
    """`python -m obtui --headless` as a child process (stdout discarded, stderr to a log file)."""
    args = [sys.executable, "-m", "obtui", "--headless", "--state-dir", str(state)]
    if once:
        args.append("--once")
    if config is not None:
        args += ["--config", str(config)]
    full_env = {**os.environ, "OBTUI_CONFIG": str(state.parent / "no-config.toml"), **(env or {})}
    # stderr goes to a file, not a pipe: nobody reads a pipe while the runner works, and a full
    # pipe would block the runner's status line.
    log = state.parent / "headless-stderr.log"
    with open(log, "ab") as err:
        proc = subprocess.Popen(
            [*args, *map(str, dirs)], stdout=subprocess.DEVNULL, stderr=err, env=full_env, cwd=cwd
        )
    proc.stderr_log = log  # type: ignore[attr-defined]
    return proc


def headless_stderr(proc: subprocess.Popen[bytes]) -> str:
    log = getattr(proc, "stderr_log", None)
    return log.read_text(errors="replace")[-4000:] if log and log.exists() else ""


def runner_started(state: Path, proc: subprocess.Popen[bytes]) -> bool:
    """The child `proc` holds the state dir's runner lock (it writes its pid into it) and its
    record tables exist. Raises if it died."""
    if proc.poll() is not None:
        raise AssertionError(f"runner exited early with {proc.returncode}: {headless_stderr(proc)}")
    try:
        if (state / "runner.lock").read_text().strip() != str(proc.pid):
            return False
    except OSError:
        return False
    # The lock is taken before the record store opens: also wait for its tables, so that
    # `success_count` right after this never sees a half-created database.
    try:
        return bool(db_rows(state, "select 1 from sqlite_master where type = 'table' and name = 'successes'"))
    except sqlite3.Error:
        return False


def toml_str(s: str | Path) -> str:
    """A TOML basic string for any text (JSON escapes are valid TOML escapes)."""
    import json

    return json.dumps(str(s))


def quick_full(argname: str, quick: Any, full: Any, *, full_timeout: float = 1800) -> Any:
    """Parametrize a reliability test: `quick` runs in `make test`, `full` only with `-m stress`.
    With several names (`"rounds,n"`), `quick` and `full` are tuples."""
    import pytest

    several = "," in argname
    q, f = (quick, full) if several else ((quick,), (full,))
    return pytest.mark.parametrize(
        argname,
        [
            pytest.param(*q, id="quick"),
            pytest.param(*f, id="full", marks=[pytest.mark.stress, pytest.mark.timeout(full_timeout)]),
        ],
    )


def scan_finished_after(engine: Any, rescans_before: int) -> bool:
    """A scan requested after `rescans_before` was counted has run to its end and all is idle.

    `rescans` grows on the engine loop in the same step that registers the scan task, so once a
    snapshot shows the higher count, an empty task table means that scan is over."""
    return (
        engine.snapshot().metrics.rescans > rescans_before and not engine._scan_tasks and engine_idle(engine)
    )


def outcome_counts(state: Path) -> tuple[int, int, int]:
    """(success records, distinct paths among them, error records)."""
    (s, d), (e,) = (
        db_rows(state, "select count(*), count(distinct file_path) from successes")[0],
        db_rows(state, "select count(*) from errors")[0],
    )
    return s, d, e
