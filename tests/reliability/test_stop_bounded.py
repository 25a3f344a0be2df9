"""A stop always ends within the grace period plus a few seconds, whatever an action does: a
command that ignores SIGTERM (and a child it started) is killed with its process group."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from tests.helpers import headless_stderr, runner_started, start_headless, success_count, toml_str, wait_for

# Ignores SIGTERM, starts a grandchild that ignores it too, writes both pids, then sleeps.
STUBBORN = (
    "import os, signal, subprocess, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "kid = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
    "open(sys.argv[1], 'w').write(f'{os.getpid()} {kid.pid}\\n')\n"
    "time.sleep(300)\n"
)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_sigterm_with_a_command_that_ignores_it_ends_in_time_and_leaves_no_child(tmp_path: Path) -> None:
    bucket, state, pids = tmp_path / "bucket", tmp_path / "state", tmp_path / "pids"
    bucket.mkdir()
    grace = 3.0
    cfg = tmp_path / "obtui.toml"
    command = [sys.executable, "-c", STUBBORN, str(pids)]
    cfg.write_text(
        f"[runner]\nshutdown_grace_seconds = {grace}\ndebounce_ms = 100\n\n"
        f"[[buckets]]\npath = {toml_str(bucket)}\n\n"
        f'[[rules]]\nname = "stubborn"\naction = "command"\ntimeout = "1h"\n'
        f"command = [{', '.join(toml_str(a) for a in command)}]\n"
    )
    proc = start_headless(state, config=cfg)
    try:
        wait_for(lambda: runner_started(state, proc), timeout=30, what="runner up")
        (bucket / "job.txt").write_text("work\n")
        wait_for(lambda: pids.exists() and len(pids.read_text().split()) == 2, timeout=30, what="command up")
        children = [int(p) for p in pids.read_text().split()]
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(20)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert code == 0, headless_stderr(proc)
    assert elapsed < 10, f"took {elapsed:.1f}s to stop (grace {grace}s)"
    assert elapsed >= grace - 0.5, "in-flight work gets the grace period first"
    wait_for(lambda: not any(_alive(p) for p in children), timeout=5, what="no child left behind")
    assert success_count(state) == 0
    assert (bucket / "job.txt").exists()
