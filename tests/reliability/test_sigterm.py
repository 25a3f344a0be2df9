"""SIGTERM while a slow command rule works through a burst: a graceful stop that finishes what is
running, records nothing it did not finish, and leaves the rest for the next run."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from tests.helpers import (
    db_rows,
    headless_stderr,
    move_into,
    obtui,
    quick_full,
    runner_started,
    stage_files,
    start_headless,
    success_count,
    toml_str,
    wait_for,
)

# Copies {path} to argv[2] after a pause; the copy lands under its final name only when complete.
SLOW_COPY = (
    "import os, shutil, sys, time\n"
    "open(sys.argv[3], 'a').write(f'{os.getpid()}\\n')\n"
    "time.sleep(float(sys.argv[4]))\n"
    "tmp = sys.argv[2] + '.partial'\n"
    "shutil.copyfile(sys.argv[1], tmp)\n"
    "os.replace(tmp, sys.argv[2])\n"
)


def _config(tmp_path: Path, bucket: Path, out: Path, *, sleep: float, grace: float) -> Path:
    cfg = tmp_path / "obtui.toml"
    command = [
        sys.executable,
        "-c",
        SLOW_COPY,
        "{path}",
        f"{out}/{{name}}",
        str(tmp_path / "pids"),
        str(sleep),
    ]
    cfg.write_text(
        f"""
[runner]
concurrency = 4
debounce_ms = 200
shutdown_grace_seconds = {grace}
retry_base_seconds = 0.05
retry_max_seconds = 0.2
status_interval_seconds = 1

[[buckets]]
path = {toml_str(bucket)}

[[rules]]
name = "slowcopy"
patterns = ["*.txt"]
action = "command"
command = [{", ".join(toml_str(a) for a in command)}]
timeout = 60
on_success = "move:processed/"
"""
    )
    return cfg


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


@quick_full("n", 150, 1_000)
def test_sigterm_mid_burst_exits_0_and_nothing_recorded_without_output(n, tmp_path):
    """SIGTERM mid-burst lets in-flight files finish and exits 0 within the grace period; every success record has its output, every unrecorded file is still in the bucket, and the next --once run processes exactly those."""
    bucket, out, staging, state = (
        tmp_path / "bucket",
        tmp_path / "out",
        tmp_path / "staging",
        tmp_path / "state",
    )
    bucket.mkdir()
    out.mkdir()
    grace = 10.0
    cfg = _config(tmp_path, bucket, out, sleep=0.3, grace=grace)
    files = stage_files(staging, n)
    proc = start_headless(state, config=cfg)
    try:
        wait_for(lambda: runner_started(state, proc), timeout=30, what="runner up")
        moved = move_into(files, bucket)
        wait_for(lambda: success_count(state) >= 8, timeout=60, what="some files done")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(grace + 5)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert code == 0, headless_stderr(proc)
    assert elapsed < grace, f"took {elapsed:.1f}s to stop (grace {grace}s)"

    recorded = {Path(r[0]).name for r in db_rows(state, "select file_path from successes")}
    assert 8 <= len(recorded) < n, "the stop must land mid-burst"
    # Every success record has its complete output, and its source was moved on.
    for name in recorded:
        assert (out / name).read_bytes() == (bucket / "processed" / name).read_bytes(), name
    # In-flight files finished (graceful): no output exists without its record.
    assert {p.name for p in out.iterdir()} == recorded
    # Everything without a record is untouched in the bucket.
    still = {p.name for p in bucket.glob("*.txt")}
    assert still == {p.name for p in moved} - recorded
    assert db_rows(state, "select count(*) from manifest where status not in ('consumed')") == [(0,)]
    assert db_rows(state, "select count(*) from errors") == [(0,)]

    # The catch-up run: same rule, without the pause (only to keep the test short).
    cfg = _config(tmp_path, bucket, out, sleep=0, grace=grace)
    r = obtui("--headless", "--once", "--state-dir", str(state), "--config", str(cfg), timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert db_rows(state, "select count(*), count(distinct file_path) from successes") == [(n, n)]
    assert {p.name for p in out.iterdir()} == {p.name for p in moved}
    assert not list(bucket.glob("*.txt"))
    assert sorted(p.name for p in (bucket / "processed").iterdir()) == sorted(p.name for p in moved)
    assert db_rows(state, "select status, count(*) from manifest group by status") == [("consumed", n)]


def test_sigterm_cuts_a_command_longer_than_grace_and_redoes_it(tmp_path):
    """A command still running when the shutdown grace runs out is killed with its process group, left unrecorded and unmoved, and processed by the next run."""
    bucket, out, state = tmp_path / "bucket", tmp_path / "out", tmp_path / "state"
    bucket.mkdir()
    out.mkdir()
    grace = 1.0
    cfg = _config(tmp_path, bucket, out, sleep=30, grace=grace)
    proc = start_headless(state, config=cfg)
    try:
        wait_for(lambda: runner_started(state, proc), timeout=30, what="runner up")
        (bucket / "long.txt").write_text("long job\n")
        pids = tmp_path / "pids"
        wait_for(lambda: pids.exists() and pids.read_text().strip(), timeout=30, what="command started")
        child = int(pids.read_text().split()[0])
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(grace + 10)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert code == 0, headless_stderr(proc)
    assert elapsed < grace + 5, f"took {elapsed:.1f}s to stop (grace {grace}s)"
    wait_for(lambda: not _alive(child), timeout=10, what="the cut-off command is gone")
    assert success_count(state) == 0
    assert (bucket / "long.txt").exists() and not list(out.iterdir())

    (tmp_path / "pids").unlink()
    cfg = _config(tmp_path, bucket, out, sleep=0, grace=grace)
    r = obtui("--headless", "--once", "--state-dir", str(state), "--config", str(cfg), timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert success_count(state) == 1
    assert (out / "long.txt").read_text() == "long job\n"
    assert (bucket / "processed" / "long.txt").exists()
