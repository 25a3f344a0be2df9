"""Issue 13.9: one definition of the figures, the same numbers in every view.

A real engine process on real folders runs a success, a failure, a failure that later succeeds
(an empty file that gets its content) and a file parked on an open circuit breaker. The headless
status line, `--status --json`, `--metrics --json`, `--report --json`, RUN_SUMMARY.md and the
dashboard's metrics pane must then all say: 3 processed, 2 successful, 1 failed, 3 error records,
with the parked file waiting, not failed.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from obtui.cli.headless import status_line
from obtui.config.model import RuleConfig
from obtui.tracking.runtime_files import read_status
from tests.helpers import engine_watching, make_config, obtui
from tests.tui.test_tui_real_engine import figure, queue_count, real_app, table, text, until

pytest.importorskip("obtui.config.loader")

EXPECTED = {
    "processed": 3,
    "successful": 2,
    "failed": 1,
    "errorRecords": 3,
    "successRate": 66.7,
    "failureRate": 33.3,
}


def cli_json(*args: str) -> Any:
    r = obtui(*args, "--json")
    assert r.returncode in (0, 3), r.stderr
    return json.loads(r.stdout)


def test_every_view_gives_the_same_figures(tmp_path: Path) -> None:
    state, summary = asyncio.run(scenario(tmp_path))
    # RUN_SUMMARY.md, written once more as the engine stopped.
    found = dict(re.findall(r"^- ([A-Za-z ]+): (.+)$", summary, re.M))
    assert found["Files Processed"] == "3" and found["Successful"] == "2" and found["Failed"] == "1", summary
    assert found["Error Records"] == "3" and found["Success Rate"] == "66.7%", summary
    # The store after the run: the same, and the parked file is a warning about a waiting file.
    report = cli_json("--report", "--state-dir", str(state))
    assert report["totals"] == EXPECTED
    [d] = report["directories"]
    assert (d["total"], d["successful"], d["failed"]) == (3, 2, 1)
    parked = [e for e in cli_json("--errors", "--state-dir", str(state)) if e["filePath"].endswith("two.cmd")]
    assert [(e["severity"], "circuit breaker" in (e["recovery"]["fallback"] or "")) for e in parked] == [
        ("WARNING", True)
    ], parked


async def scenario(tmp_path: Path) -> tuple[Path, str]:
    inc, state = tmp_path / "incoming", tmp_path / "state"
    inc.mkdir()
    fail = (sys.executable, "-c", "import sys; sys.exit(3)")
    rules = [
        RuleConfig(name="notes", patterns=("*.txt",), action="note"),
        RuleConfig(name="tool", patterns=("*.cmd",), action="command", command=fail, retries=0),
    ]
    config = make_config([inc], rules, debounce_ms=100, breaker_threshold=2, breaker_reset_seconds=3600)
    async with real_app("process", config, state) as (app, host), app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: engine_watching(host), "engine running with its watchers")
        await until(pilot, lambda: "Watching    1 dir" in text(app, "#metrics-figures"), "the pane drawn")
        # Before any outcome there is no rate to show (it said `Successful 0 (100.0%)`).
        pane = text(app, "#metrics-figures")
        assert re.search(r"^Successful\s+0\s*$", pane, re.M) and "%" not in pane, pane

        (inc / "ok.txt").write_text("fine\n")  # a success
        (inc / "empty.txt").write_bytes(b"")  # a failure, until it gets its content
        (inc / "one.cmd").write_text("one\n")  # a failure of the tool: the breaker counts it
        await until(pilot, lambda: figure(app, "Files") == 3, "3 files with an outcome")
        assert figure(app, "Failed") == 2
        (inc / "two.cmd").write_text("two\n")  # the second failure opens the breaker: it waits
        (inc / "empty.txt").write_text("content at last\n")  # the failed file succeeds now

        def settled() -> bool:
            s = host.snapshot()
            return s.queue.waiting == 1 and s.metrics.successful == 2 and s.metrics.error_records == 3

        await until(pilot, settled, "the parked file waiting and empty.txt successful", timeout=20)
        snap = host.snapshot()
        assert snap.metrics.figures.to_json() == EXPECTED

        # The dashboard: metrics pane, queue pane and directories table.
        ok = re.compile(r"^Successful\s+2 \(66\.7%\)$", re.M)
        await until(pilot, lambda: ok.search(text(app, "#metrics-figures")), "the pane following")
        pane = text(app, "#metrics-figures")
        assert figure(app, "Files") == 3, pane
        assert re.search(r"^Failed\s+1 \(33\.3%\)$", pane, re.M), pane
        await until(pilot, lambda: queue_count(app, "waiting") == 1, "the parked file waiting")
        dirs = table(app, "#dirs-table")
        await until(pilot, lambda: dirs.raw_row(str(inc.resolve()))[1] == "3", "3 files in the dir row")
        assert dirs.raw_row(str(inc.resolve()))[2] == "66.7%"

        # The headless status line, on the same snapshot.
        assert "processed 3 · successful 2 · failed 1 ·" in status_line(snap), status_line(snap)

        # The command line, while the runner is alive (status.json is rewritten every second).
        def status_written() -> bool:
            s = (read_status(state) or {}).get("snapshot") or {}
            return (s.get("figures") or {}) == EXPECTED

        await until(pilot, status_written, "status.json with the figures")
        status = await asyncio.to_thread(cli_json, "--status", "--state-dir", str(state))
        assert status["alive"] and status["figures"] == EXPECTED
        metrics = await asyncio.to_thread(cli_json, "--metrics", "--state-dir", str(state))
        assert metrics["figures"] == EXPECTED
        records = metrics["records"]
        assert (records["successes"], records["failed_files"], records["errors"]) == (2, 1, 3)
        report = await asyncio.to_thread(cli_json, "--report", "--state-dir", str(state))
        assert report["totals"] == EXPECTED

        await pilot.press("q")
        await until(pilot, lambda: not app.is_running or app.return_code is not None, "the app to exit")
    return state, (state / "RUN_SUMMARY.md").read_text(encoding="utf-8")
