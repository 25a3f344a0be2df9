"""Issue 13.9, successes superseded too: only a file's latest outcome counts, whatever it was.

A real engine process on real folders: `a.txt` succeeds, is edited in place to nothing and fails;
`b.txt` succeeds, is edited and succeeds again. Every view must then say: 2 processed (two files),
1 successful (b.txt), 1 failed (a.txt), 1 error record; the store keeps all three success records.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from obtui.cli.headless import status_line
from obtui.config.model import RuleConfig
from obtui.tracking.runtime_files import read_status
from tests.helpers import engine_watching, make_config
from tests.tui.test_tui_figures import cli_json
from tests.tui.test_tui_real_engine import figure, real_app, table, text, until

EXPECTED = {
    "processed": 2,
    "successful": 1,
    "failed": 1,
    "errorRecords": 1,
    "successRate": 50.0,
    "failureRate": 50.0,
}


def test_a_later_outcome_supersedes_a_success(tmp_path: Path) -> None:
    state, summary = asyncio.run(scenario(tmp_path))
    found = dict(re.findall(r"^- ([A-Za-z ]+): (.+)$", summary, re.M))
    assert (found["Files Processed"], found["Successful"], found["Failed"]) == ("2", "1", "1"), summary
    report = cli_json("--report", "--state-dir", str(state))
    assert report["totals"] == EXPECTED
    [d] = report["directories"]
    assert (d["total"], d["successful"], d["failed"]) == (2, 1, 1)
    # Over a window from before the run: the same files, by their latest outcomes.
    since = cli_json("--report", "--since", "1h", "--state-dir", str(state))
    assert since["totals"] == EXPECTED


async def scenario(tmp_path: Path) -> tuple[Path, str]:
    inc, state = tmp_path / "incoming", tmp_path / "state"
    inc.mkdir()
    rules = [RuleConfig(name="notes", patterns=("*.txt",), action="note")]
    config = make_config([inc], rules, debounce_ms=100)
    async with real_app("process", config, state) as (app, host), app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: engine_watching(host), "engine running with its watchers")
        (inc / "a.txt").write_text("first\n")
        (inc / "b.txt").write_text("first\n")
        await until(pilot, lambda: host.snapshot().metrics.successful == 2, "both files successful")
        assert host.snapshot().metrics.figures.processed == 2

        (inc / "a.txt").write_bytes(b"")  # success -> edit -> failure
        await until(pilot, lambda: host.snapshot().metrics.failed == 1, "a.txt failed")
        assert host.snapshot().metrics.figures.to_json() == EXPECTED
        (inc / "b.txt").write_text("second\n")  # success -> edit -> success

        def b_again() -> bool:
            s = host.snapshot()
            return s.metrics.files_processed == 2 and any(
                d.bytes == len("second\n") for d in s.directories if d.successful == 1
            )

        await until(pilot, b_again, "b.txt successful again, the directory counting it once")
        snap = host.snapshot()
        assert snap.metrics.figures.to_json() == EXPECTED
        [d] = [d for d in snap.directories if d.directory == str(inc.resolve())]
        assert (d.total, d.successful, d.failed, d.bytes) == (2, 1, 1, len("second\n"))
        assert "processed 2 · successful 1 · failed 1 ·" in status_line(snap), status_line(snap)

        # The dashboard.
        ok = re.compile(r"^Successful\s+1 \(50\.0%\)$", re.M)
        await until(pilot, lambda: ok.search(text(app, "#metrics-figures")), "the pane following")
        assert figure(app, "Files") == 2
        dirs = table(app, "#dirs-table")
        await until(pilot, lambda: dirs.raw_row(str(inc.resolve()))[1] == "2", "2 files in the dir row")
        assert dirs.raw_row(str(inc.resolve()))[2] == "50.0%"

        # The command line while the runner is alive.
        def status_written() -> bool:
            s = (read_status(state) or {}).get("snapshot") or {}
            return (s.get("figures") or {}) == EXPECTED

        await until(pilot, status_written, "status.json with the figures")
        status = await asyncio.to_thread(cli_json, "--status", "--state-dir", str(state))
        assert status["alive"] and status["figures"] == EXPECTED
        metrics = await asyncio.to_thread(cli_json, "--metrics", "--state-dir", str(state))
        assert metrics["figures"] == EXPECTED
        records = metrics["records"]  # every record is kept; only the figures supersede
        assert (records["successes"], records["failed_files"], records["errors"]) == (3, 1, 1)
        report = await asyncio.to_thread(cli_json, "--report", "--state-dir", str(state))
        assert report["totals"] == EXPECTED

        await pilot.press("q")
        await until(pilot, lambda: not app.is_running or app.return_code is not None, "the app to exit")
    return state, (state / "RUN_SUMMARY.md").read_text(encoding="utf-8")
