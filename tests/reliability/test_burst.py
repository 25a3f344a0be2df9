"""Bursts: every file moved into a bucket in one go is processed exactly once, with native
(inotify) events and with polling. Real folders, real observers, real SQLite.

Quick sizes run in `make test`; `pytest -m stress tests/reliability` runs the full sizes.
"""

from __future__ import annotations

from pathlib import Path

from obtui.config.model import BucketConfig, RuleConfig
from tests.helpers import (
    db_rows,
    engine_idle,
    make_config,
    move_into,
    outcome_counts,
    quick_full,
    running_engine,
    scan_finished_after,
    stage_files,
    success_count,
    wait_for,
)


def _assert_each_once(state: Path, bucket: Path, moved: list[Path], notes: Path) -> None:
    n = len(moved)
    assert outcome_counts(state) == (n, n, 0)
    recorded = {r[0] for r in db_rows(state, "select file_path from successes")}
    assert recorded == {str(p) for p in moved}
    outputs = sorted(p.name for p in notes.glob("*.obs.md"))
    assert outputs == sorted(p.name.removesuffix(".txt") + ".obs.md" for p in moved)
    assert db_rows(state, "select status, count(*) from manifest group by status") == [("done", n)]
    leftovers = [p for p in notes.iterdir() if p.name.startswith(".obtui-")]
    assert not leftovers, f"temp files left: {leftovers[:5]}"


def _burst(tmp_path: Path, n: int, **runner: object) -> None:
    bucket, staging, state = tmp_path / "bucket", tmp_path / "staging", tmp_path / "state"
    bucket.mkdir()
    files = stage_files(staging, n)
    rule = RuleConfig(name="notes", patterns=("*.txt",), output_dir="notes")  # outputs inside the bucket
    config = make_config([bucket], [rule], **runner)
    with running_engine(config, state) as engine:
        moved = move_into(files, bucket)
        wait_for(
            lambda: success_count(state) >= n,
            timeout=60 + n / 150,
            interval=0.25,
            what=f"{n} successes",
        )
        wait_for(lambda: engine_idle(engine), what="idle after the burst")
        # A reconciliation scan afterwards finds nothing left to do (and redoes nothing).
        before = engine.snapshot().metrics.rescans
        engine.rescan()
        wait_for(lambda: scan_finished_after(engine, before), timeout=60, what="rescan over")
    _assert_each_once(state, bucket, moved, bucket / "notes")


@quick_full("n", 20_000, 100_000)
def test_burst_moved_in_each_file_processed_exactly_once(n, tmp_path):
    """N files moved into a watched bucket in one burst each get exactly one success record and one output: none lost, none processed twice."""
    _burst(tmp_path, n)


@quick_full("n", 1_000, 5_000)
def test_polling_burst_each_file_processed_exactly_once(n, tmp_path):
    """With polling instead of inotify (NFS/SMB mode), N files moved in one burst are each processed exactly once."""
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    staging, state = tmp_path / "staging", tmp_path / "state"
    files = stage_files(staging, n)
    rule = RuleConfig(name="notes", patterns=("*.txt",), output_dir="notes")
    config = make_config([bucket], [rule], poll_seconds=0.5)
    with running_engine(config, state) as engine:
        wait_for(lambda: engine.watchers, what="the watcher")
        assert all(w.polling for w in engine.watchers.values())
        moved = move_into(files, bucket)
        wait_for(
            lambda: success_count(state) >= n, timeout=60 + n / 100, interval=0.25, what=f"{n} successes"
        )
        wait_for(lambda: engine_idle(engine), what="idle after the burst")
        before = engine.snapshot().metrics.rescans
        engine.rescan()
        wait_for(lambda: scan_finished_after(engine, before), timeout=60, what="rescan over")
    _assert_each_once(state, bucket, moved, bucket / "notes")


def test_polling_override_per_bucket(tmp_path):
    """A bucket's own poll_seconds makes just that bucket poll, and its files are processed exactly once."""
    native, polled, state = tmp_path / "native", tmp_path / "polled", tmp_path / "state"
    native.mkdir()
    polled.mkdir()
    config = make_config([native], [RuleConfig(name="notes", patterns=("*.txt",))])
    import dataclasses

    config = dataclasses.replace(
        config, buckets=(*config.buckets, BucketConfig(path=polled.resolve(), poll_seconds=0.3))
    )
    with running_engine(config, state) as engine:
        # The engine starts its buckets' watchers one after the other.
        wait_for(lambda: len(engine.watchers) == 2 and all(w.alive for w in engine.watchers.values()))
        assert not engine.watchers[str(native.resolve())].polling
        assert engine.watchers[str(polled.resolve())].polling
        moved = move_into(stage_files(tmp_path / "s1", 50, "n"), native)
        moved += move_into(stage_files(tmp_path / "s2", 50, "p"), polled)
        wait_for(lambda: success_count(state) >= 100, timeout=60, what="100 successes")
        wait_for(lambda: engine_idle(engine))
    assert outcome_counts(state) == (100, 100, 0)
    assert {r[0] for r in db_rows(state, "select file_path from successes")} == {str(p) for p in moved}
