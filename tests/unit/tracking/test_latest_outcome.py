"""Every outcome of a file supersedes the one before it (issue 13.9): only a file's latest outcome
counts, a success as much as a failure, in `report()` (all time and over a window), in the
aggregates kept incrementally and rebuilt, through `prune`, and after the v2 -> v3 migration."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from obtui.tracking import schema
from obtui.tracking.records import ManifestStatus
from obtui.tracking.retention import prune
from obtui.tracking.sqlite_store import SQLiteStore
from tests.unit.tracking.test_store import T0, entry, error, iso, success


def t(minutes: float) -> str:
    return iso(T0 + timedelta(minutes=minutes))


def figures(store: SQLiteStore, since: str | None = None) -> tuple[int, int, int, float, int]:
    """(processed, successful, failed) of the report, and the dir's avg duration and bytes."""
    r = store.report(since)
    d = r.directories[0] if r.directories else None
    fig = r.figures
    return (
        fig.processed,
        fig.successful,
        fig.failed,
        d.avg_duration_ms if d else 0.0,
        d.bytes if d else 0,
    )


def test_success_then_edited_and_failed_counts_one_failed_file(store):
    store.commit_batch([(success(t(1), "/in/a.txt", dur=10.0, nbytes=100), entry("/in/a.txt"))])
    store.commit_batch([(error(t(2), "/in/a.txt"), entry("/in/a.txt", ManifestStatus.FAILED))])
    assert figures(store) == (1, 0, 1, 0.0, 0)
    [d] = store.report().directories
    assert (d.total, d.successful, d.failed) == (1, 0, 1)
    assert store.report().total_errors == 1  # the error record itself still counts as a record


def test_success_then_edited_and_succeeded_again_is_one_processed_file(store):
    store.commit_batch([(success(t(1), "/in/a.txt", dur=10.0, nbytes=100), entry("/in/a.txt"))])
    store.commit_batch([(success(t(2), "/in/a.txt", dur=30.0, nbytes=300), entry("/in/a.txt"))])
    # The average duration and the bytes are those of the latest successes.
    assert figures(store) == (1, 1, 0, 30.0, 300)
    store.commit_batch([(success(t(3), "/in/b.txt", dur=20.0, nbytes=50), entry("/in/b.txt"))])
    assert figures(store) == (2, 2, 0, 25.0, 350)
    assert len(store.successes()) == 3  # every record is kept; only the figures supersede


def test_outcomes_of_one_path_in_one_batch_leave_only_the_last(store):
    store.commit_batch(
        [
            (success(t(1), "/in/a.txt"), entry("/in/a.txt")),
            (error(t(2), "/in/a.txt"), entry("/in/a.txt", ManifestStatus.FAILED)),
            (success(t(3), "/in/a.txt", dur=7.0, nbytes=70), entry("/in/a.txt")),
        ]
    )
    assert figures(store) == (1, 1, 0, 7.0, 70)


def test_a_window_counts_files_whose_latest_outcome_falls_in_it(store):
    """Success at 04:10, then again (edited) at 06:10 and a failure of another file at 06:20:
    since 05:00 both files count, by their latest outcomes; since 06:15 (inside an hour: raw
    records) only the failure; since 04:00 the first success is no longer counted."""
    store.commit_batch([(success(t(10), "/in/a.txt"), entry("/in/a.txt"))])
    store.commit_batch([(success(t(20), "/in/b.txt"), entry("/in/b.txt"))])
    store.commit_batch([(success(t(130), "/in/a.txt"), entry("/in/a.txt"))])
    store.commit_batch([(error(t(140), "/in/b.txt"), entry("/in/b.txt", ManifestStatus.FAILED))])
    assert figures(store)[:3] == (2, 1, 1)
    assert figures(store, t(0))[:3] == (2, 1, 1)
    assert figures(store, t(60))[:3] == (2, 1, 1)
    assert figures(store, t(135))[:3] == (1, 0, 1)
    before = [store.report(s) for s in (None, t(0), t(60), t(135))]
    store.rebuild_aggregates()
    assert [store.report(s) for s in (None, t(0), t(60), t(135))] == before


def test_a_moved_file_is_never_superseded_by_a_new_file_at_its_path(store):
    """`on_success = "move:..."`: the entry is post_pending, then consumed; the next file dropped
    under that name is a new file, counted beside it."""
    store.commit_batch([(success(t(1), "/in/done/a.txt"), entry("/in/a.txt", ManifestStatus.POST_PENDING))])
    store.set_manifest_status("/in/a.txt", ManifestStatus.CONSUMED, "/in/done/a.txt")
    store.commit_batch([(success(t(2), "/in/a.txt"), entry("/in/a.txt"))])
    assert figures(store)[:3] == (2, 2, 0)


def test_prune_keeps_the_latest_outcomes_and_agrees_with_a_rebuild(store):
    store.commit_batch([(success(t(10), "/in/a.txt", dur=10.0), entry("/in/a.txt"))])
    store.commit_batch([(success(t(130), "/in/a.txt", dur=30.0), entry("/in/a.txt"))])
    store.commit_batch([(success(t(140), "/in/b.txt", dur=50.0), entry("/in/b.txt"))])
    # The superseded success goes; the latest ones stay as they were counted.
    assert prune(store, t(60)).successes == 1
    after = figures(store)
    assert after[:3] == (2, 2, 0) and after[3] == pytest.approx(40.0)
    store.rebuild_aggregates()
    assert figures(store) == after
    # The latest success of a file pruned: a later outcome has nothing left to take out.
    prune(store, t(135))
    store.commit_batch([(error(t(150), "/in/a.txt"), entry("/in/a.txt", ManifestStatus.FAILED))])
    assert figures(store)[:3] == (2, 1, 1)


def test_a_version_2_database_is_migrated_to_count_latest_outcomes(tmp_path):
    """v2 counted every success: a file processed twice was two successes, and one that
    succeeded and then failed was both. v3 recounts by the manifest's latest outcomes."""
    state = tmp_path / "state"
    state.mkdir()
    con = sqlite3.connect(state / "obtui.db", isolation_level=None)
    for step in schema.MIGRATIONS[:2]:
        for stmt in step.split(";"):
            if stmt.strip():
                con.execute(stmt)
    con.execute("PRAGMA user_version = 2")
    rows = [  # (record_id, ts, path, duration)
        ("SUCCESS-1", t(1), "/in/twice.txt", 10.0),
        ("SUCCESS-2", t(70), "/in/twice.txt", 30.0),
        ("SUCCESS-3", t(2), "/in/then-failed.txt", 5.0),
        ("SUCCESS-4", t(3), "/in/moved/x.txt", 8.0),
    ]
    for rid, ts, path, dur in rows:
        con.execute(
            "INSERT INTO successes VALUES (?, ?, ?, '/in', 'r', 'note', NULL, ?, 100, 'text', NULL, '', '{}')",
            (rid, ts, path, dur),
        )
    con.execute(
        "INSERT INTO errors VALUES ('ERR-1', ?, 'error', 'FileAccess', 'Processor', 'readFile', "
        "'/in/then-failed.txt', '/in', 'r', 'EACCES', 1, '{}')",
        (t(4),),
    )
    manifest = [
        ("/in/twice.txt", "done", "SUCCESS-2"),
        ("/in/then-failed.txt", "failed", "ERR-1"),
        ("/in/x.txt", "consumed", "SUCCESS-4"),
    ]
    for path, status, rid in manifest:
        con.execute(
            "INSERT INTO manifest VALUES (?, '/in', 'x', ?, 't', 1, 2, 3, 'r', ?, NULL)", (path, status, rid)
        )
    for stmt in schema.REBUILD:  # v2's aggregates: every success counted
        con.execute(stmt.replace(" WHERE counted = 1", ""))
    assert con.execute("SELECT successful, failed FROM dir_stats").fetchone() == (4, 1)
    con.close()
    store = SQLiteStore(state)
    assert store.counts()["schema_version"] == 3
    r = store.report()
    assert (r.total_success, r.total_failed) == (2, 1)  # twice.txt (latest) and the moved x.txt
    [d] = r.directories
    assert d.avg_duration_ms == pytest.approx(19.0)  # (30 + 8) / 2
    assert (store.report(t(60)).total_success, store.report(t(60)).total_failed) == (1, 0)
    # New outcomes go on superseding from there.
    store.commit_batch([(success(t(80), "/in/then-failed.txt"), entry("/in/then-failed.txt"))])
    assert (store.report().total_success, store.report().total_failed) == (3, 0)
    store.close()
