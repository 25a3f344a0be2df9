"""The inotify queue overflows under a burst; the engine notices and a rescan recovers every file.

Made deterministic: the kernel reads fs.inotify.max_queued_events when an inotify instance is
created, so the test lowers it (as root) only until the headless runner's inotify instance
exists, and puts it back at once. Then the runner is frozen with SIGSTOP (its event handling stalls
completely), the burst is written, and SIGCONT lets it find the queue overflowed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import (
    db_rows,
    headless_stderr,
    outcome_counts,
    quick_full,
    runner_started,
    start_headless,
    toml_str,
    wait_for,
)

MAX_QUEUED = Path("/proc/sys/fs/inotify/max_queued_events")


@contextlib.contextmanager
def small_inotify_queue(size: int) -> Iterator[None]:
    """Lower max_queued_events for inotify instances created inside the block; skip if we can't."""
    try:
        old = MAX_QUEUED.read_text().strip()
    except OSError as exc:
        pytest.skip(f"cannot read {MAX_QUEUED}: {exc}")
    try:
        MAX_QUEUED.write_text(str(size))
    except OSError as exc:
        pytest.skip(f"cannot lower {MAX_QUEUED} (needs root, and /proc/sys writable): {exc}")
    try:
        yield
    finally:
        MAX_QUEUED.write_text(old)


def _snapshot(state: Path, pid: int) -> dict[str, Any] | None:
    """The runner's last published snapshot (status.json), if runner `pid` wrote it."""
    try:
        data = json.loads((state / "status.json").read_text())
    except (OSError, ValueError):
        return None
    return data["snapshot"] if data.get("pid") == pid else None


def _inotify_watching(pid: int) -> bool:
    """Process `pid` holds an inotify instance with at least one watch (from /proc fdinfo)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:inotify":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                if "inotify wd:" in f.read():
                    return True
        except OSError:
            continue
    return False


@quick_full("n", 2_000, 20_000)
def test_overflow_is_noticed_and_rescan_recovers_every_file(n, tmp_path):
    """When the inotify queue overflows (events lost), the engine counts the overflow, rescans, and still processes every file exactly once, files in folders created during the burst included."""
    bucket, state = tmp_path / "bucket", tmp_path / "state"
    bucket.mkdir()
    cfg = tmp_path / "obtui.toml"
    cfg.write_text(
        f"""
[runner]
debounce_ms = 100
rescan_seconds = 3600
[[buckets]]
path = {toml_str(bucket)}
[[rules]]
name = "notes"
patterns = ["*.txt"]
output_dir = "notes"
"""
    )
    expected: list[Path] = []
    with small_inotify_queue(64):
        proc = start_headless(state, config=cfg)
        try:
            wait_for(lambda: runner_started(state, proc), timeout=30, what="runner up")
            # Its inotify instance (with a 64-event queue) exists and watches the bucket.
            wait_for(lambda: _inotify_watching(proc.pid), timeout=30, what="bucket watched")
        except BaseException:
            proc.kill()
            raise
    try:
        os.kill(proc.pid, signal.SIGSTOP)  # the runner reads no event until SIGCONT
        try:
            per_dir = n // 10
            for d in range(10):
                # Half the files at the top, half in folders created during the burst: those get
                # no watch before the runner wakes up, so only a scan can find them.
                folder = bucket if d % 2 == 0 else bucket / f"sub{d}" / "deeper"
                folder.mkdir(parents=True, exist_ok=True)
                for i in range(per_dir):
                    p = folder / f"d{d}-{i:06d}.txt"
                    p.write_bytes(b"overflow TODO\n")
                    expected.append(p)
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        wait_for(
            lambda: outcome_counts(state)[0] >= len(expected) or proc.poll() is not None,
            timeout=60 + n / 100,
            interval=0.25,
            what=f"{len(expected)} successes",
        )
        assert proc.poll() is None, headless_stderr(proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, headless_stderr(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    final = _snapshot(state, proc.pid)  # written once more at shutdown
    assert final is not None
    assert final["metrics"]["overflows"] >= 1, "the overflow went unnoticed"
    # The start-up scan is one; the overflow must have asked for at least one more.
    assert final["metrics"]["rescans"] >= 2, "an overflow must trigger a rescan"
    assert outcome_counts(state) == (len(expected), len(expected), 0)
    recorded = {r[0] for r in db_rows(state, "select file_path from successes")}
    assert recorded == {str(p) for p in expected}
    notes = [p for p in (bucket / "notes").rglob("*") if p.is_file()]
    assert len(notes) == len(expected) and all(p.name.endswith(".obs.md") for p in notes)
    assert os.path.isdir(bucket / "notes" / "sub1" / "deeper")  # sub-folders mirrored, not clashing
