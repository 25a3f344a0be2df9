"""Issue 13 (the first hour), command-line points, on the real binary with real folders."""

from __future__ import annotations

import os
import signal

from tests.helpers import headless_stderr, obtui, runner_started, start_headless, wait_for


def test_13_2_headless_sigterm_exits_0_after_failures(buckets):
    inc, _, state = buckets
    proc = start_headless(state, inc)
    try:
        wait_for(lambda: runner_started(state, proc), what="runner start")
        (inc / "empty.txt").write_bytes(b"")  # an empty file is a FileContent failure
        wait_for(lambda: "empty.txt" in obtui("--errors", "--state-dir", str(state)).stdout, what="failure")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0, headless_stderr(proc)
    # --once keeps its answer: 1 when files failed.
    (inc / "empty2.txt").write_bytes(b"")
    r = obtui("--headless", "--once", "--state-dir", str(state), str(inc))
    assert r.returncode == 1, r.stderr
    assert os.path.exists(inc / "empty2.txt")
