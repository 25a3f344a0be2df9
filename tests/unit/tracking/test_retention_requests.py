"""Retention (prune keeps the aggregates equal to the records left), the store facts, the durable
request table, and the manifest edits behind --retry / --forget, on a real SQLite file."""

from __future__ import annotations

import random
import sqlite3
from datetime import timedelta

from obtui.tracking import requests as rq
from obtui.tracking import schema
from obtui.tracking.records import Category, ManifestStatus
from obtui.tracking.retention import prune, store_facts
from obtui.tracking.sqlite_store import SQLiteStore
from tests.unit.tracking.test_store import T0, entry, error, iso, success


def _aggregates(store: SQLiteStore) -> list[list[tuple[object, ...]]]:
    con = store._reader()
    return [
        sorted(
            tuple(round(v, 6) if isinstance(v, float) else v for v in row)
            for row in con.execute(f"SELECT * FROM {t}")
        )
        for t in ("dir_stats", "hour_dir", "hour_cat")
    ]


def _figures(store: SQLiteStore, since: str | None) -> tuple[object, ...]:
    r = store.report(since)
    dirs = [
        (d.directory, d.total, d.failed, d.bytes, round(d.avg_duration_ms, 6), d.last_file)
        for d in r.directories
    ]
    return (dirs, r.errors_by_category, r.total_success, r.total_failed, r.total_errors)


def test_prune_keeps_aggregates_equal_to_a_rebuild_and_keeps_the_manifest(tmp_path):
    store = SQLiteStore(tmp_path / "state")
    rng = random.Random(3)
    items = []
    for i in range(1500):
        ts = iso(T0 + timedelta(seconds=rng.randrange(0, 2 * 86400), milliseconds=rng.randrange(1000)))
        wd = rng.choice(["/a", "/b"])
        path = f"{wd}/f{i}"
        k = rng.random()
        if k < 0.8:
            items.append(
                (
                    success(ts, path, wd, dur=rng.uniform(1, 50), nbytes=rng.randrange(999)),
                    entry(path, bucket=wd),
                )
            )
        elif k < 0.9:
            items.append(
                (error(ts, path, wd, cat=rng.choice(list(Category))), entry(path, ManifestStatus.FAILED, wd))
            )
        else:
            items.append((error(ts, path, wd), None))
    store.commit_batch(items)
    manifest_before = store.counts()["manifest"]
    # A cut-off inside an hour: part of that hour is removed, part kept.
    cut = iso(T0 + timedelta(hours=20, minutes=31, seconds=7))
    result = prune(store, cut)
    older = [r for r, _ in items if r.timestamp < cut]
    assert result.removed == len(older) > 0
    assert result.successes == sum(1 for r in older if hasattr(r, "record_id"))
    left = store._reader().execute(
        "SELECT min(ts) FROM (SELECT ts FROM successes UNION ALL SELECT ts FROM errors)"
    )
    assert left.fetchone()[0] >= cut
    kept = _aggregates(store)
    sinces = (None, iso(T0), cut, iso(T0 + timedelta(hours=30)))
    reports = [_figures(store, s) for s in sinces]
    store.rebuild_aggregates()
    assert _aggregates(store) == kept
    assert [_figures(store, s) for s in sinces] == reports
    assert store.counts()["manifest"] == manifest_before
    # Everything: no records, no figures, the manifest still there.
    prune(store, iso(T0 + timedelta(days=9)))
    r = store.report()
    assert (r.total_success, r.total_failed, r.total_errors, r.directories) == (0, 0, 0, ())
    assert store.counts()["manifest"] == manifest_before
    facts = store_facts(store)
    assert facts.oldest is None and facts.records == 0 and facts.size_bytes > 0
    store.close()


def test_store_facts_name_the_oldest_record(tmp_path):
    store = SQLiteStore(tmp_path / "state")
    store.commit_error(error(iso(T0 + timedelta(hours=2))))
    store.commit_success(success(iso(T0 + timedelta(hours=1))), entry("/in/a.txt"))
    facts = store_facts(store)
    assert facts.oldest == iso(T0 + timedelta(hours=1)) and facts.records == 2
    store.close()


def test_retry_requests_are_durable_and_not_doubled(tmp_path):
    store = SQLiteStore(tmp_path / "state")
    store.commit_success(success(iso(T0), "/in/ok.txt"), entry("/in/ok.txt"))
    store.commit_error(error(iso(T0), "/in/bad.txt"), entry("/in/bad.txt", ManifestStatus.FAILED))
    store.set_manifest_status("/in/bad.txt", ManifestStatus.CONSUMED, "/in/failed/bad.txt")
    failed = rq.failed_entries(store)
    assert [(e.path, e.moved_to) for e in failed] == [("/in/bad.txt", "/in/failed/bad.txt")]
    # Found by where it went, too.
    found = rq.find_entry(store, "/in/failed/bad.txt")
    assert found is not None and found.path == "/in/bad.txt"
    assert rq.request_retry(store, failed) == (1, 0)
    assert rq.request_retry(store, failed) == (0, 1)
    store.close()
    store = SQLiteStore(tmp_path / "state")  # survives a reopen (no runner was there)
    (req,) = rq.pending_requests(store)
    assert (req.kind, req.path, req.bucket, req.moved_to) == (
        "retry",
        "/in/bad.txt",
        "/in",
        "/in/failed/bad.txt",
    )
    assert rq.reset_failed(store, "/in/bad.txt") is True
    assert rq.reset_failed(store, "/in/ok.txt") is False  # a success is never reset by a retry
    # The failed content is forgotten (the gate lets the file through), the entry kept at its path,
    # failed, pointing at the failure: the retry's outcome supersedes it (it was moved: now back).
    reset = store.manifest_get("/in/bad.txt")
    assert reset is not None and (reset.status, reset.sha256, reset.moved_to) == (
        ManifestStatus.FAILED,
        "",
        None,
    )
    assert store.report().total_failed == 1
    store.commit_success(success(iso(T0 + timedelta(minutes=1)), "/in/bad.txt"), entry("/in/bad.txt"))
    assert (store.report().total_success, store.report().total_failed) == (2, 0)
    rq.drop_requests(store, [req.id])
    assert rq.pending_requests(store) == []
    store.close()


def test_forget_a_file_or_a_whole_bucket(tmp_path):
    store = SQLiteStore(tmp_path / "state")
    for p in ("/in/a.txt", "/in/sub/b.txt", "/other/c.txt", "/input/d.txt"):
        bucket = p.rsplit("/", 2)[0] if "/sub/" not in p else "/in"
        store.commit_success(success(iso(T0), p), entry(p, bucket=bucket))
    assert rq.forget(store, "/in/a.txt") == 1
    assert rq.forget(store, "/in/a.txt") == 0
    assert rq.forget(store, "/in") == 1  # /in/sub/b.txt; /input/d.txt is not under /in
    assert store.manifest_get("/input/d.txt") is not None and store.manifest_get("/other/c.txt") is not None
    store.close()


def test_a_version_1_database_is_migrated_with_its_manifest(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    con = sqlite3.connect(state / "obtui.db", isolation_level=None)
    for stmt in schema.MIGRATIONS[0].split(";"):
        if stmt.strip():
            con.execute(stmt)
    con.execute("PRAGMA user_version = 1")
    con.execute("INSERT INTO manifest VALUES ('/in/a', '/in', 'x', 'done', 't', 1, 2, 3, 'r', 'SUCCESS-1')")
    con.close()
    store = SQLiteStore(state)
    e = store.manifest_get("/in/a")
    assert e is not None and e.moved_to is None and e.record_id == "SUCCESS-1"
    assert rq.pending_requests(store) == []
    store.close()
