"""Crash loop: `kill -9` of the headless runner at random moments during a burst, restarted each
time, then a `--once` catch-up. Exactly-once must survive all of it."""

from __future__ import annotations

import os
import random
import time

from tests.helpers import (
    db_rows,
    headless_stderr,
    move_into,
    obtui,
    outcome_counts,
    quick_full,
    runner_started,
    stage_files,
    start_headless,
    success_count,
    wait_for,
)


@quick_full("rounds,n", (3, 1_000), (10, 5_000))
def test_kill_9_loop_then_once_leaves_one_output_and_record_per_file(rounds, n, tmp_path):
    """After repeated kill -9 of the runner at random moments mid-burst and a final --once run, every file has exactly one output and one success record, and the database passes integrity_check."""
    seed = int(os.environ.get("OBTUI_TEST_SEED", time.time_ns() % 2**32))
    rng = random.Random(seed)
    print(f"crash-loop seed {seed} (set OBTUI_TEST_SEED to replay)")
    bucket, staging, state = tmp_path / "bucket", tmp_path / "staging", tmp_path / "state"
    bucket.mkdir()
    files = stage_files(staging, n)
    chunk = -(-n // rounds)
    moved = []
    kills = []
    for r in range(rounds):
        proc = start_headless(state, bucket)  # no config: the default rule, a note next to each file
        try:
            wait_for(lambda p=proc: runner_started(state, p), timeout=30, what="runner up")
            moved += move_into(files[r * chunk : (r + 1) * chunk], bucket)
            done = success_count(state)
            # A random moment: after 0 .. 90 % of what is still to do has been recorded (0 kills
            # the runner while its start-up scan is still running).
            target = done + rng.randint(0, int((len(moved) - done) * 0.9))
            wait_for(
                lambda t=target, p=proc: success_count(state) >= t or p.poll() is not None,
                timeout=120,
                interval=0.005,
                what=f"round {r}: {target} successes",
            )
            assert proc.poll() is None, f"runner died on its own: {headless_stderr(proc)}"
        finally:
            proc.kill()  # SIGKILL
            proc.wait(10)
        kills.append(success_count(state))
    print(f"successes at each kill: {kills}")
    assert len(moved) == n
    r = obtui("--headless", "--once", "--state-dir", str(state), str(bucket), timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert db_rows(state, "pragma integrity_check") == [("ok",)]
    assert outcome_counts(state) == (n, n, 0)
    assert {row[0] for row in db_rows(state, "select file_path from successes")} == {str(p) for p in moved}
    assert db_rows(state, "select status, count(*) from manifest group by status") == [("done", n)]
    notes = sorted(p.name for p in bucket.glob("*.obs.md"))
    assert notes == sorted(p.stem + ".obs.md" for p in moved)
    leftovers = sorted(p.name for p in bucket.iterdir() if p.name.startswith(".obtui-"))
    assert not leftovers, f"temp files left behind: {leftovers}"


def test_temp_output_left_by_a_killed_runner_is_cleaned_up(tmp_path):
    """An output temp file left by a runner killed mid-write (`.obtui-*.tmp`) is removed by the next start's scan, and the file it belonged to gets its one real output."""
    bucket, state = tmp_path / "bucket", tmp_path / "state"
    (bucket / "sub").mkdir(parents=True)
    (bucket / "a.txt").write_text("a TODO\n")
    (bucket / "sub" / "b.txt").write_text("b TODO\n")
    # What a kill -9 between "write the temp file" and "rename it" leaves behind.
    stale = [bucket / ".obtui-0123456789ab.tmp", bucket / "sub" / ".obtui-ba9876543210.tmp"]
    for p in stale:
        p.write_text("---\nsource: partial")
    old = time.time() - 120
    for p in [*stale, bucket / "a.txt", bucket / "sub" / "b.txt"]:
        os.utime(p, (old, old))
    # A hidden file that only looks similar is none of our business.
    (bucket / ".obtui-notes.txt").write_text("keep me\n")
    r = obtui("--headless", "--once", "--state-dir", str(state), str(bucket))
    assert r.returncode == 0, r.stderr[-3000:]
    assert not [p for p in stale if p.exists()]
    assert (bucket / ".obtui-notes.txt").read_text() == "keep me\n"
    assert outcome_counts(state) == (2, 2, 0)
    assert (bucket / "a.obs.md").exists() and (bucket / "sub" / "b.obs.md").exists()
