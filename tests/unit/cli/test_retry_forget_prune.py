"""`--retry`, `--forget`, `--prune`, `[store] keep` and the store line of `--status`, on the real
binary with real folders, a real headless runner and its SQLite store."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from obtui.tracking.records import Category, ErrorRecord, Severity
from obtui.tracking.sqlite_store import SQLiteStore
from tests.helpers import (
    db_rows,
    headless_stderr,
    obtui,
    runner_started,
    start_headless,
    success_count,
    toml_str,
    wait_for,
)


def _failed_files(state: Path) -> int:
    if not (state / "obtui.db").exists():
        return 0
    return db_rows(state, "select count(*) from errors where failed_file = 1")[0][0]


def _config(tmp_path: Path, bucket: Path, flag: Path, extra: str = "") -> Path:
    """A rule whose command fails until `flag` exists; failures are moved to failed/."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f"""
[runner]
debounce_ms = 100
breaker_threshold = 100
retry_base_seconds = 0.05

[[buckets]]
path = {toml_str(bucket)}

[[rules]]
name = "needs-flag"
patterns = ["*.txt"]
action = "command"
command = ["test", "-e", {toml_str(flag)}]
retries = 0
on_failure = "move:failed/"
{extra}
"""
    )
    return cfg


def _stop(proc, code: int) -> None:  # type: ignore[no-untyped-def]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == code, headless_stderr(proc)


def test_retry_failed_brings_moved_files_back_to_a_live_runner(tmp_path):
    inc, state, flag = tmp_path / "in", tmp_path / "state", tmp_path / "flag"
    inc.mkdir()
    cfg = _config(tmp_path, inc, flag)
    proc = start_headless(state, config=cfg)
    try:
        wait_for(lambda: runner_started(state, proc), what="runner")
        for i in range(5):
            (inc / f"f{i}.txt").write_text(f"file {i}\n")
        wait_for(lambda: _failed_files(state) == 5, what="5 failures")
        failed = inc / "failed"
        wait_for(lambda: len(list(failed.iterdir())) == 5, what="5 files in failed/")
        flag.touch()
        t0 = time.monotonic()
        r = obtui("--retry", "failed", "--state-dir", str(state))
        assert r.returncode == 0, r.stderr
        assert "retry requested for 5 file(s)" in r.stdout and "back from" in r.stdout, r.stdout
        assert f"pid {proc.pid}" in r.stdout
        wait_for(lambda: success_count(state) == 5, timeout=15, what="5 successes")
        assert time.monotonic() - t0 < 10, "a live runner takes a retry within a couple of seconds"
        assert list(failed.iterdir()) == []
        assert sorted(p.name for p in inc.glob("*.txt")) == [f"f{i}.txt" for i in range(5)]
        wait_for(lambda: not db_rows(state, "select * from requests"), what="requests taken")
        # Nothing left: a friendly message, exit 0, and no request for the runner.
        again = obtui("--retry", "failed", "--state-dir", str(state))
        assert again.returncode == 0, again.stderr
        assert "nothing to retry" in again.stdout
        assert db_rows(state, "select count(*) from requests")[0][0] == 0
        # A file named explicitly whose latest outcome is a success is not run again.
        ok = obtui("--retry", str(inc / "f1.txt"), "--state-dir", str(state))
        assert ok.returncode == 0 and "latest outcome is a success" in ok.stdout, ok.stdout
    finally:
        _stop(proc, 0)  # a graceful stop is 0, though files failed earlier (issue 13.2)
    assert success_count(state) == 5
    assert db_rows(state, "select count(*) from manifest where record_id like 'ERR-%'")[0][0] == 0
    # The retried files count by their latest outcome only: 5 successful, none failed.
    totals = json.loads(obtui("--report", "--json", "--state-dir", str(state)).stdout)["totals"]
    assert (totals["processed"], totals["successful"], totals["failed"]) == (5, 5, 0), totals


def test_retry_without_a_runner_waits_for_the_next_once_run(tmp_path):
    inc, state, flag = tmp_path / "in", tmp_path / "state", tmp_path / "flag"
    inc.mkdir()
    cfg = _config(tmp_path, inc, flag).read_text().replace('on_failure = "move:failed/"', "")
    (tmp_path / "keep.toml").write_text(cfg)
    for name in ("a.txt", "b.txt"):
        (inc / name).write_text(name)
    run = ("--once", "--config", str(tmp_path / "keep.toml"), "--state-dir", str(state))
    assert obtui(*run).returncode == 1
    err_id = db_rows(state, "select error_id from errors where file_path like '%a.txt'")[0][0]
    flag.touch()
    r = obtui("--retry", err_id, "--state-dir", str(state))
    assert r.returncode == 0 and "no runner is alive" in r.stdout, r.stdout + r.stderr
    # The request is durable: a second ask is the same request.
    assert (
        "1 of them already waiting" in obtui("--retry", str(inc / "a.txt"), "--state-dir", str(state)).stdout
    )
    assert obtui(*run).returncode == 0
    assert db_rows(state, "select file_path from successes") == [(str(inc / "a.txt"),)]
    assert db_rows(state, "select count(*) from requests")[0][0] == 0
    # A failed file deleted by hand is said to be gone, not requested.
    (inc / "b.txt").unlink()
    gone = obtui("--retry", "failed", "--state-dir", str(state))
    assert gone.returncode == 0 and "b.txt: the file is no longer there" in gone.stdout, gone.stdout
    assert db_rows(state, "select count(*) from requests")[0][0] == 0
    # Unknown ids and paths are named, exit 1.
    bad = obtui("--retry", "ERR-1999-01-01-000000-001", str(tmp_path / "nope.txt"), "--state-dir", str(state))
    assert bad.returncode == 1
    assert (
        "ERR-1999-01-01-000000-001: no error record" in bad.stderr and "nope.txt: not on record" in bad.stderr
    )


def test_forget_one_file_then_a_bucket_then_prune_everything(tmp_path):
    inc, state = tmp_path / "in", tmp_path / "state"
    inc.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (inc / name).write_text(f"TODO {name}\n")
    once = ("--once", "--state-dir", str(state), str(inc))
    assert obtui(*once).returncode == 0
    assert success_count(state) == 3
    r = obtui("--forget", str(inc / "b.txt"), "--state-dir", str(state))
    assert r.returncode == 0 and "forgot 1 file(s)" in r.stdout, r.stdout + r.stderr
    assert obtui(*once).returncode == 0
    rows = db_rows(state, "select file_path from successes order by rowid")
    assert len(rows) == 4 and rows[-1] == (str(inc / "b.txt"),)
    r = obtui("--forget", str(inc), "--state-dir", str(state))
    assert r.returncode == 0 and "forgot 3 file(s)" in r.stdout
    assert obtui(*once).returncode == 0
    assert success_count(state) == 7
    missing = obtui("--forget", str(inc / "never.txt"), "--state-dir", str(state))
    assert missing.returncode == 1 and "not on record" in missing.stderr

    st = json.loads(obtui("--status", "--json", "--state-dir", str(state)).stdout)
    assert st["store"]["records"] == 7 and st["store"]["sizeBytes"] > 0 and st["store"]["oldestRecord"]
    assert "Record Store:" in obtui("--status", "--state-dir", str(state)).stdout

    p = obtui("--prune", "0s", "--state-dir", str(state))
    assert p.returncode == 0 and "removed 7 success and 0 error record(s)" in p.stdout, p.stdout
    report = json.loads(obtui("--report", "--json", "--state-dir", str(state)).stdout)
    assert (
        report["totals"]["processed"] == 0 and report["directories"] == [] and not report["errorsByCategory"]
    )
    assert "no files processed" in obtui("--report", "--state-dir", str(state)).stdout
    assert obtui(*once).returncode == 0
    assert success_count(state) == 0  # the manifest was kept: nothing processed again
    assert db_rows(state, "select count(*) from manifest")[0][0] == 3
    st = json.loads(obtui("--status", "--json", "--state-dir", str(state)).stdout)
    assert st["store"]["records"] == 0 and st["store"]["oldestRecord"] is None
    bad = obtui("--prune", "soon", "--state-dir", str(state))
    assert bad.returncode == 2 and "--prune" in bad.stderr and "duration" in bad.stderr


def test_store_keep_prunes_old_records_at_start(tmp_path):
    inc, state = tmp_path / "in", tmp_path / "state"
    inc.mkdir()
    (inc / "new.txt").write_text("fresh\n")
    store = SQLiteStore(state)
    store.commit_error(
        ErrorRecord(
            timestamp="2020-01-01T00:00:00.000Z",
            severity=Severity.ERROR,
            category=Category.SYSTEM,
            component="Processor",
            operation="process",
            message="an old failure",
            file_path=str(inc / "old.txt"),
            watch_dir=str(inc),
        )
    )
    store.close()
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[store]\nkeep = "30d"\n\n[[buckets]]\npath = {toml_str(inc)}\n')
    assert "Records kept: 30d" in obtui("--check-config", "--config", str(cfg)).stdout
    r = obtui("--once", "--config", str(cfg), "--state-dir", str(state))
    assert r.returncode == 0, r.stderr
    assert db_rows(state, "select count(*) from errors")[0][0] == 0
    assert success_count(state) == 1
    assert json.loads(obtui("--report", "--json", "--state-dir", str(state)).stdout)["errorsByCategory"] == {}
    bad = tmp_path / "bad.toml"
    bad.write_text('[store]\nkeep = "forever"\n')
    r = obtui("--check-config", "--config", str(bad))
    assert r.returncode == 2 and "bad.toml:2" in r.stderr and "store.keep" in r.stderr
