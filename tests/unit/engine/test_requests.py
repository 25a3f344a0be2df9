"""The runner's side of retry requests on the real engine (thread host), real folders and store:
a file already running is not run twice; a file gone from where it was is recorded, not lost."""

from __future__ import annotations

from pathlib import Path

from obtui.config.model import RuleConfig
from obtui.tracking import requests as rq
from obtui.tracking.requests import RetryRequester
from obtui.tracking.sqlite_store import SQLiteStore
from tests.helpers import db_rows, engine_idle, make_config, running_engine, wait_for


def _count(state: Path, sql: str) -> int:
    return db_rows(state, sql)[0][0] if (state / "obtui.db").exists() else 0


def test_a_retry_of_a_running_file_does_not_run_it_twice(tmp_path):
    inc, state, flag = tmp_path / "in", tmp_path / "state", tmp_path / "flag"
    inc.mkdir()
    runs = tmp_path / "runs.log"
    # Fails until the flag exists; then logs each run and takes a while (so a retry meets it running).
    script = 'test -e "$0" || exit 1; echo run >> "$1"; sleep 1'
    rule = RuleConfig(
        name="slow",
        patterns=("*.txt",),
        action="command",
        command=("sh", "-c", script, str(flag), str(runs)),
        retries=0,
    )
    with running_engine(make_config([inc], [rule], debounce_ms=100, breaker_threshold=100), state) as engine:
        f = inc / "a.txt"
        f.write_text("one\n")
        wait_for(
            lambda: _count(state, "select count(*) from errors where failed_file = 1") == 1, what="failure"
        )
        flag.touch()
        f.write_text("two\n")  # changed content: processed again, and running for a second
        wait_for(lambda: runs.exists(), what="the second run started")
        outcome = RetryRequester(state).retry([str(f)])
        assert len(outcome.plan.entries) == 1  # its latest outcome on record is still the failure
        wait_for(lambda: not db_rows(state, "select * from requests"), what="request taken")
        wait_for(lambda: _count(state, "select count(*) from successes") == 1, what="success")
        wait_for(lambda: engine_idle(engine), what="idle")
    assert runs.read_text().count("run") == 1
    assert _count(state, "select count(*) from successes") == 1


def test_a_retry_of_a_file_gone_meanwhile_is_recorded(tmp_path):
    inc, state = tmp_path / "in", tmp_path / "state"
    inc.mkdir()
    rule = RuleConfig(name="fail", patterns=("*.txt",), action="command", command=("false",), retries=0)
    with running_engine(make_config([inc], [rule], debounce_ms=100, breaker_threshold=100), state):
        f = inc / "a.txt"
        f.write_text("x\n")
        wait_for(
            lambda: _count(state, "select count(*) from errors where failed_file = 1") == 1, what="failure"
        )
        f.unlink()
        # As if it went between the request and the runner taking it (the CLI would say it is gone).
        store = SQLiteStore(state)
        try:
            assert rq.request_retry(store, rq.failed_entries(store)) == (1, 0)
        finally:
            store.close()
        wait_for(
            lambda: db_rows(state, "select message from errors where component = 'Retry'"),
            what="a Retry error",
        )
    (msg,) = db_rows(state, "select message from errors where component = 'Retry'")[0]
    assert "no longer there" in msg and str(f) in msg
    assert _count(state, "select count(*) from manifest where record_id like 'ERR-%'") == 1  # still failed


def test_prune_under_a_live_runner_and_a_new_store_keep_apply_at_once(tmp_path):
    import dataclasses
    import io

    from obtui.cli.upkeep import cmd_prune
    from obtui.config.model import StoreConfig
    from obtui.tracking.records import Category, ErrorRecord, Severity

    inc, state = tmp_path / "in", tmp_path / "state"
    inc.mkdir()
    config = make_config([inc], debounce_ms=100)
    with running_engine(config, state) as engine:
        (inc / "a.txt").write_text("TODO a\n")
        wait_for(lambda: engine.snapshot().directories, what="a directory row")
        out = io.StringIO()
        assert cmd_prune(state, "0s", out) == 0 and "removed 1 success" in out.getvalue()
        # The runner re-reads its figures: the dashboard's directories pane follows the store.
        wait_for(lambda: not engine.snapshot().directories, what="the pruned figures gone from the snapshot")

        store = SQLiteStore(state)
        try:
            old = ErrorRecord(
                "2020-01-01T00:00:00.000Z", Severity.ERROR, Category.SYSTEM, "Processor", "process", "old"
            )
            store.commit_error(old)
        finally:
            store.close()
        engine.apply_config(dataclasses.replace(config, store=StoreConfig(keep=86_400)))
        wait_for(lambda: _count(state, "select count(*) from errors") == 0, what="the old record pruned")
    assert _count(state, "select count(*) from manifest") == 1
