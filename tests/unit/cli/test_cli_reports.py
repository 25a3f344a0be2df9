"""`--report / --errors / --status / --metrics` as text and JSON, on an empty and a filled state
dir; the runner lock seen from another process; the runtime files."""

from __future__ import annotations

import fcntl
import io
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from obtui.api.snapshot import BucketState, EngineSnapshot, ErrorSummary, Metrics, QueueStatus
from obtui.cli import reports as r
from obtui.tracking import runtime_files as rf
from obtui.tracking.records import Category, ManifestStatus
from obtui.tracking.sqlite_store import SQLiteStore
from tests.helpers import ROOT, wait_for
from tests.unit.tracking.test_store import T0, entry, error, iso, success


def run(fn, *args, **kw) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    code = fn(*args, out=out, **kw)
    return code, out.getvalue()


@pytest.fixture
def filled(tmp_path) -> Path:
    """A state dir with records in two directories, as a runner leaves it."""
    state = tmp_path / "state"
    s = SQLiteStore(state)
    now = datetime.now(UTC)
    items = [
        (
            success(iso(now - timedelta(minutes=i)), f"/in/f{i}.txt", "/in", dur=40.0, nbytes=1_000_000),
            entry(f"/in/f{i}.txt"),
        )
        for i in range(3)
    ]
    items.append(
        (
            success(iso(now - timedelta(days=3)), "/up/old.txt", "/up", dur=10.0, nbytes=10),
            entry("/up/old.txt", bucket="/up"),
        )
    )
    items.append(
        (error(iso(now - timedelta(minutes=1)), "/in/bad.txt"), entry("/in/bad.txt", ManifestStatus.FAILED))
    )
    items.append(
        (
            error(
                iso(now - timedelta(days=2)), "/up/x", "/up", cat=Category.EXTERNAL_TOOL, msg="rg not found"
            ),
            None,
        )
    )
    s.commit_batch(items)
    s.close()
    return state


def test_parse_since():
    now = datetime(2026, 2, 18, 12, 0, 0, tzinfo=UTC)
    assert r.parse_since("24h", now) == "2026-02-17T12:00:00.000Z"
    assert r.parse_since("7d", now) == "2026-02-11T12:00:00.000Z"
    assert r.parse_since("30m", now) == "2026-02-18T11:30:00.000Z"
    assert r.parse_since(" 90s ", now) == "2026-02-18T11:58:30.000Z"
    assert r.parse_since("ALL", now) is None
    assert r.parse_since("2026-02-18T04:00:00Z") == "2026-02-18T04:00:00.000Z"
    assert r.parse_since("2026-02-18T06:00:00+02:00") == "2026-02-18T04:00:00.000Z"
    local_midnight = datetime(2026, 2, 18).astimezone().astimezone(UTC)
    assert r.parse_since("2026-02-18") == iso(local_midnight)
    for bad in ("yesterday", "24", "h", "-3d", ""):
        with pytest.raises(ValueError, match="24h"):
            r.parse_since(bad, now)


def test_empty_state_dir_is_friendly(tmp_path):
    state = tmp_path / "nowhere"
    code, text = run(r.cmd_report, state, None, False)
    assert code == 0 and f"no records yet in {state} (is --state-dir right?)" in text
    code, text = run(r.cmd_errors, state, None, 50, False)
    assert code == 0 and "no records yet" in text
    code, text = run(r.cmd_status, state, False)
    assert code == 3 and "no runner is alive" in text and "--state-dir" in text
    code, text = run(r.cmd_metrics, state, False)
    assert code == 0 and "no metrics yet" in text
    report = json.loads(run(r.cmd_report, state, None, True)[1])
    assert (
        report["directories"] == []
        and report["errorsByCategory"] == {}
        and report["totals"]["processed"] == 0
    )
    assert json.loads(run(r.cmd_errors, state, None, 50, True)[1]) == []
    status = json.loads(run(r.cmd_status, state, True)[1])
    assert status["alive"] is False and status["snapshot"] is None
    metrics = json.loads(run(r.cmd_metrics, state, True)[1])
    assert metrics == {
        "timestamp": None,
        "pid": None,
        "metrics": {},
        "figures": None,
        "source": None,
        "records": {},
    }
    assert not state.exists(), "a read-only command created the state dir"


def test_report_text_and_json(filled):
    code, text = run(r.cmd_report, filled, None, False)
    assert code == 0
    assert "Success report, all time" in text
    assert "/in\n  Processed:    4\n  Successful:   3 (75.0%)\n  Failed:       1 (25.0%)" in text
    assert "Avg duration: 40 ms" in text and "Bytes:        3.0 MB" in text
    assert "Totals: 5 processed, 4 successful (80.0%), 1 failed, 2 error records" in text
    assert "ExternalTool: 1 (50.0%)" in text and "FileAccess:   1 (50.0%)" in text
    data = json.loads(run(r.cmd_report, filled, None, True)[1])
    assert data["totals"] == {
        "processed": 5,
        "successful": 4,
        "failed": 1,
        "successRate": 80.0,
        "failureRate": 20.0,
        "errorRecords": 2,
    }
    d_in = data["directories"][0]
    assert d_in["directory"] == "/in" and d_in["total"] == 4 and d_in["successRate"] == 75.0
    assert d_in["lastFile"] == "/in/f0.txt"
    recent = json.loads(run(r.cmd_report, filled, r.parse_since("24h"), True)[1])
    assert [d["directory"] for d in recent["directories"]] == ["/in"]
    assert recent["errorsByCategory"] == {"FileAccess": 1}


def test_errors_text_json_and_category(filled):
    code, text = run(r.cmd_errors, filled, None, 50, False)
    assert code == 0 and text.startswith("2 error(s), newest first (all time):")
    assert text.index("/in/bad.txt") < text.index("rg not found")  # newest first
    assert "Processor/readFile: PermissionDeniedError (EACCES): EACCES: permission denied" in text
    assert "suggestion: Check the file's permissions." in text
    data = json.loads(run(r.cmd_errors, filled, None, 50, True, category="externaltoolerror")[1])
    assert [e["error"]["message"] for e in data] == ["rg not found"]
    assert set(data[0]) >= {"errorId", "timestamp", "severity", "category", "component", "error", "recovery"}
    assert (
        json.loads(run(r.cmd_errors, filled, r.parse_since("1d"), 1, True)[1])[0]["filePath"] == "/in/bad.txt"
    )
    code, _ = run(r.cmd_errors, filled, None, 50, False, category="Nonsense")
    assert code == 2
    assert r.normalise_category("PatternError") == "PatternMatching"


def _snapshot(state_pid: int) -> dict:
    now = time.time()
    snap = EngineSnapshot(
        version=9,
        run_id="RUN-2026-02-18-040000",
        pid=state_pid,
        state="running",
        started_at=now - 932,
        taken_at=now,
        buckets=(BucketState("/in", "watching"), BucketState("/up", "polling", message="NFS")),
        metrics=Metrics(events_received=1234, events_processed=1200, event_rate=1.29, files_processed=1150,
                        successful=1120, failed=30, duration_avg_ms=45.0, bytes_processed=1_200_000, uptime_s=932),
        queue=QueueStatus(pending=5, processing=2, completed=1143),
        recent_errors=(ErrorSummary("ERR-2026-02-18-042345-001", iso(T0), "ERROR", "FileAccess", "Permission denied", "/in/file.txt"),),
    )  # fmt: skip
    return snap.to_json()


def test_status_of_a_stopped_runner_and_metrics(filled):
    rf.write_status(filled, _snapshot(4321))
    code, text = run(r.cmd_status, filled, False)
    assert code == 3
    assert "NOT RUNNING" in text and "pid 4321" in text and "Last status:" in text
    for line in ("Watched Directories: 2", "Events Received:  1,234", "Successful:       1,120 (97.4%)",
                 "Failed:           30 (2.6%)", "Bytes Processed:  1.2 MB", "Pending:    5 files",
                 "1. ERR-2026-02-18-042345-001: Permission denied - /in/file.txt", "/up  polling (NFS)"):  # fmt: skip
        assert line in text, line
    assert "FileAccess: 1 (100.0%)" in text  # error summary of this run, from the store
    data = json.loads(run(r.cmd_status, filled, True)[1])
    assert data["alive"] is False and data["runId"] == "RUN-2026-02-18-040000"
    assert data["snapshot"]["metrics"]["events_received"] == 1234 and data["uptimeSeconds"] == 932
    # Metrics come from status.json until a sample is appended.
    assert json.loads(run(r.cmd_metrics, filled, True)[1])["source"] == "status.json"
    sample = {
        **_snapshot(1)["metrics"],
        "files_processed": 7,
        "successful": 5,
        "failed": 2,
        "error_records": 3,
    }
    rf.append_metrics(filled, sample)
    code, text = run(r.cmd_metrics, filled, False)
    assert code == 0 and "Files processed:     7" in text and "from metrics.jsonl" in text
    assert "Successful:          5 (71.4%)" in text and "Error records:       3" in text
    assert "Records on file: 4 successful files, 1 failed files, 2 error records" in text
    data = json.loads(run(r.cmd_metrics, filled, True)[1])
    assert data["metrics"]["files_processed"] == 7 and "event_rate_history" not in data["metrics"]
    assert data["figures"] == {
        "processed": 7,
        "successful": 5,
        "failed": 2,
        "errorRecords": 3,
        "successRate": 71.4,
        "failureRate": 28.6,
    }
    assert data["records"]["successes"] == 4


_HOLDER = (
    "import sys; from pathlib import Path\n"
    "from obtui.tracking.runtime_files import acquire_runner_lock\n"
    "lock = acquire_runner_lock(Path(sys.argv[1]))\n"
    "sys.stdin.read()\n"
)


def test_runner_lock_seen_from_another_process(tmp_path):
    state = tmp_path / "state"
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(state)], stdin=subprocess.PIPE, cwd=ROOT)
    try:
        wait_for(lambda: rf.runner_pid(state) == proc.pid, what="the holder takes the lock")
        assert rf.runner_alive(state)
        with pytest.raises(rf.RunnerLockedError, match=f"pid {proc.pid}"):
            rf.acquire_runner_lock(state, wait=0)
        code, text = run(r.cmd_status, state, False)
        assert code == 0 and f"runner is alive (pid {proc.pid})" in text
        rf.write_status(state, _snapshot(proc.pid))  # an earlier runner's status (written by our pid)
        code, text = run(r.cmd_status, state, False)
        assert code == 0 and "has not written its status yet" in text
        payload = {"pid": proc.pid, "written_at": iso(datetime.now(UTC)), "snapshot": _snapshot(proc.pid)}
        (state / rf.STATUS_NAME).write_text(json.dumps(payload))
        code, text = run(r.cmd_status, state, False)
        assert (
            code == 0
            and f"Runner:              alive, pid {proc.pid}, RUN-2026-02-18-040000, running" in text
        )
    finally:
        proc.stdin.close()  # type: ignore[union-attr]
        proc.wait(20)
    wait_for(lambda: not rf.runner_alive(state), what="the lock is released")
    assert run(r.cmd_status, state, False)[0] == 3
    lock = rf.acquire_runner_lock(state)
    assert (state / rf.LOCK_NAME).read_text() == f"{os.getpid()}\n"
    lock.close()


def test_status_checks_neither_see_nor_block_each_other(tmp_path):
    state = tmp_path / "state"
    rf.acquire_runner_lock(state).close()
    probe = os.open(state / rf.LOCK_NAME, os.O_RDONLY)  # another checker, mid-check
    fcntl.flock(probe, fcntl.LOCK_SH)
    try:
        assert not rf.runner_alive(state)
        got: list[object] = []
        t = threading.Thread(target=lambda: got.append(rf.acquire_runner_lock(state, wait=30)))
        t.start()
        fcntl.flock(probe, fcntl.LOCK_UN)  # the runner gets in once the check is over
        t.join(30)
        assert got and rf.runner_alive(state)
        got[0].close()  # type: ignore[attr-defined]
    finally:
        os.close(probe)


def test_runtime_files(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    assert rf.read_status(state) is None and rf.read_last_metrics(state) is None
    rf.write_status(state, {"state": "running"})
    st = rf.read_status(state)
    assert (
        st["pid"] == os.getpid() and st["snapshot"] == {"state": "running"} and st["written_at"].endswith("Z")
    )
    assert sorted(p.name for p in state.iterdir()) == ["status.json"]  # no temp file left
    (state / "status.json").write_text("{torn")
    assert rf.read_status(state) is None
    for i in range(3):
        rf.append_metrics(state, {"files_processed": i, "event_rate_history": [1.0]})
    with open(state / "metrics.jsonl", "a") as f:
        f.write('{"timestamp": "cut off mid-wri')
    last = rf.read_last_metrics(state)
    assert last["metrics"] == {"files_processed": 2} and last["pid"] == os.getpid()


def test_metrics_file_rotates(tmp_path, monkeypatch):
    monkeypatch.setattr(rf, "METRICS_MAX_BYTES", 200)
    for i in range(10):
        rf.append_metrics(tmp_path, {"files_processed": i, "padding": "x" * 50})
    assert (tmp_path / "metrics.jsonl.1").exists()
    assert (tmp_path / "metrics.jsonl").stat().st_size <= 400
    assert rf.read_last_metrics(tmp_path)["metrics"]["files_processed"] == 9


def test_reports_import_neither_textual_nor_rich(filled):
    code = (
        "import sys, io\n"
        "from pathlib import Path\n"
        "from obtui.cli import reports as r\n"
        "state, out = Path(sys.argv[1]), io.StringIO()\n"
        "assert r.cmd_report(state, r.parse_since('7d'), False, out=out) == 0\n"
        "assert r.cmd_report(state, None, True, out=out) == 0\n"
        "assert r.cmd_errors(state, None, 10, False, out=out) == 0\n"
        "assert r.cmd_status(state, False, out=out) == 3\n"
        "assert r.cmd_metrics(state, True, out=out) == 0\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    p = subprocess.run(
        [sys.executable, "-c", code, str(filled)], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


def test_undecodable_paths_do_not_break_output(tmp_path):
    state = tmp_path / "state"
    bad = "/in/caf\udce9.txt"  # os.fsdecode of b"/in/caf\xe9.txt"
    s = SQLiteStore(state)
    s.commit_batch([(success(iso(T0), bad), entry(bad)), (error(iso(T0), bad), None)])
    s.close()
    for fn, args in ((r.cmd_report, (None, False)), (r.cmd_errors, (None, 50, False))):
        code, text = run(fn, state, *args)
        assert code == 0 and "caf\\xe9.txt" in text
        text.encode()  # printable on a UTF-8 terminal
    code, text = run(r.cmd_errors, state, None, 50, True)
    assert json.loads(text)[0]["filePath"] == bad
