"""Files a running engine keeps in the state dir, for `obtui --status` / `--metrics` to read:

- `runner.lock`: held with an exclusive `flock` for as long as a runner runs; holds its pid.
- `status.json`: the latest snapshot, replaced atomically about once a second.
- `metrics.jsonl`: one metrics sample a line, appended every `metrics_interval_seconds`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from obtui.tracking.codec import now_iso

LOCK_NAME = "runner.lock"
STATUS_NAME = "status.json"
METRICS_NAME = "metrics.jsonl"
METRICS_MAX_BYTES = 10 * 1024 * 1024  # then metrics.jsonl becomes metrics.jsonl.1 (one generation)
_TAIL_BYTES = 256 * 1024


class RunnerLockedError(RuntimeError):
    """Another runner holds the state dir."""


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def acquire_runner_lock(state_dir: Path, wait: float = 0.5) -> IO[str]:
    """Take the runner lock of `state_dir` and write our pid into it; close the returned file to
    release it. Raises RunnerLockedError naming the holder's pid.

    Waits up to `wait` seconds first, since a status check holds the lock for a moment."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = state_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                pid = _read_pid(path)
                who = f"pid {pid}" if pid else "another process"
                raise RunnerLockedError(
                    f"another obtui runner ({who}) is already using the state dir {state_dir}; "
                    "stop it first, or give this one its own --state-dir"
                ) from None
            time.sleep(0.02)
        except BaseException:
            os.close(fd)
            raise
    f = os.fdopen(fd, "r+", encoding="ascii")
    f.truncate(0)
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f


def runner_pid(state_dir: Path) -> int | None:
    """The pid of the runner holding `state_dir`'s lock, or None when no runner is alive
    (0 when one is alive but its pid is not readable)."""
    path = Path(state_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        # A shared lock conflicts with the runner's exclusive one, and not with other checkers.
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_pid(path) or 0
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def runner_alive(state_dir: Path) -> bool:
    """Whether a runner holds `state_dir` right now."""
    return runner_pid(state_dir) is not None


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_status(state_dir: Path, snapshot_json: dict[str, Any]) -> None:
    """Replace status.json atomically with {"pid", "written_at", "snapshot"}."""
    payload = {"pid": os.getpid(), "written_at": now_iso(), "snapshot": snapshot_json}
    _atomic_write(Path(state_dir) / STATUS_NAME, json.dumps(payload, separators=(",", ":")))


def read_status(state_dir: Path) -> dict[str, Any] | None:
    """The last status.json, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads((Path(state_dir) / STATUS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def append_metrics(state_dir: Path, snapshot_metrics: dict[str, Any]) -> None:
    """Append one line {"timestamp", "pid", "metrics"} to metrics.jsonl.

    The per-second histories are left out (the file is itself the history); past
    `METRICS_MAX_BYTES` the file is rotated to metrics.jsonl.1."""
    path = Path(state_dir) / METRICS_NAME
    metrics = {k: v for k, v in snapshot_metrics.items() if not k.endswith("_history")}
    line = json.dumps({"timestamp": now_iso(), "pid": os.getpid(), "metrics": metrics}, separators=(",", ":"))
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_size > METRICS_MAX_BYTES:
            os.replace(path, path.with_name(METRICS_NAME + ".1"))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, (line + "\n").encode())  # one write: lines never interleave
    finally:
        os.close(fd)


def read_last_metrics(state_dir: Path) -> dict[str, Any] | None:
    """The newest complete line of metrics.jsonl, or None."""
    path = Path(state_dir) / METRICS_NAME
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - _TAIL_BYTES))
            tail = f.read()
    except OSError:
        return None
    for raw in reversed(tail.splitlines()):
        try:
            data = json.loads(raw)
        except ValueError:  # a line cut by the tail window or by a crash mid-write
            continue
        if isinstance(data, dict):
            return data
    return None
