"""The SQLite record store on a real database file: ids, group commit, manifest, report figures,
error queries, file modes, schema versions and concurrent use from several threads."""

from __future__ import annotations

import dataclasses
import os
import random
import re
import sqlite3
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from obtui.tracking import schema
from obtui.tracking.codec import error_from_json, success_from_json
from obtui.tracking.records import (
    Category,
    ErrorRecord,
    ManifestEntry,
    ManifestStatus,
    Severity,
    SuccessRecord,
)
from obtui.tracking.sqlite_store import SQLiteStore

T0 = datetime(2026, 2, 18, 4, 0, 0, tzinfo=UTC)


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def success(
    ts: str, path: str = "/in/a.txt", wd: str = "/in", dur: float = 10.0, nbytes: int = 100
) -> SuccessRecord:
    return SuccessRecord(
        timestamp=ts,
        file_path=path,
        watch_dir=wd,
        rule="notes",
        action="note",
        output_path=path + ".obs.md",
        matched_patterns=("*.txt",),
        duration_ms=dur,
        bytes_processed=nbytes,
        file_size=nbytes,
        encoding="utf-8",
        sha256="ab" * 32,
        extra={"grep_tool": "rg"},
    )


def error(
    ts: str,
    path: str | None = "/in/b.txt",
    wd: str | None = "/in",
    cat: Category = Category.FILE_ACCESS,
    msg: str = "EACCES: permission denied",
) -> ErrorRecord:
    return ErrorRecord(
        timestamp=ts,
        severity=Severity.ERROR,
        category=cat,
        component="Processor",
        operation="readFile",
        message=msg,
        name="PermissionDeniedError",
        code="EACCES",
        file_path=path,
        watch_dir=wd,
        rule="notes",
        context={"attempts": 2},
        recovery_attempted=True,
        recovery_fallback="retry with backoff",
        suggestion="Check the file's permissions.",
    )


def entry(path: str, status: ManifestStatus = ManifestStatus.DONE, bucket: str = "/in") -> ManifestEntry:
    return ManifestEntry(
        path, bucket, "cd" * 32, status, iso(T0), size=5, mtime_ns=123, inode=42, rule="notes"
    )


def test_ids_follow_the_record_second_and_stay_unique_across_reopen(tmp_path):
    state = tmp_path / "state"
    ts = "2026-02-18T04:23:45.123Z"
    s = SQLiteStore(state)
    ids = [s.commit_success(success(ts), entry(f"/in/{i}")).record_id for i in range(3)]
    assert ids == [f"SUCCESS-2026-02-18-042345-{n:03d}" for n in (1, 2, 3)]
    err = s.commit_error(error(ts))
    assert err.error_id == "ERR-2026-02-18-042345-001"
    # An offset timestamp is numbered by its UTC second.
    assert s.commit_error(error("2026-02-18T06:23:46.5+02:00")).error_id == "ERR-2026-02-18-042346-001"
    s.close()
    s = SQLiteStore(state)
    assert s.commit_success(success(ts), entry("/in/x")).record_id == "SUCCESS-2026-02-18-042345-004"
    assert s.commit_error(error(ts)).error_id == "ERR-2026-02-18-042345-002"
    s.close()


def test_more_than_999_in_one_second_get_longer_numbers(store):
    ts = "2026-02-18T04:23:45.000Z"
    out = store.commit_batch([(success(ts, f"/in/{i}"), entry(f"/in/{i}")) for i in range(1001)])
    ids = [r.record_id for r in out]
    assert len(set(ids)) == 1001
    assert ids[998:] == [f"SUCCESS-2026-02-18-042345-{n}" for n in ("999", "1000", "1001")]
    # Numbering continues after a reopen even past 999 (numeric, not text, maximum).
    store.close()
    again = SQLiteStore(store.state_dir)
    assert again.commit_success(success(ts), entry("/in/z")).record_id.endswith("-1002")
    again.close()


def test_group_commit_is_one_transaction(store):
    ts = iso(T0)
    good = [(success(ts, f"/in/{i}"), entry(f"/in/{i}")) for i in range(50)]
    bad = dataclasses.replace(entry("/in/bad"), sha256=None)  # violates NOT NULL
    with pytest.raises(sqlite3.IntegrityError):
        store.commit_batch([*good, (success(ts, "/in/bad"), bad)])
    assert store.counts()["successes"] == 0
    assert store.manifest_get("/in/0") is None
    assert store.report().total_success == 0
    saved = store.commit_batch(good)
    assert [type(r) for r in saved] == [SuccessRecord] * 50
    assert store.counts()["successes"] == 50


def test_records_round_trip(store):
    s = store.commit_success(success("2026-02-18T04:23:45.123Z", "/in/ü\udcff.txt"), entry("/in/ü\udcff.txt"))
    e = store.commit_error(error("2026-02-18T04:23:46.000Z"))
    assert store.successes() == [s]
    assert store.error(e.error_id) == e
    assert store.error("ERR-1999-01-01-000000-001") is None
    assert success_from_json(s.to_json()) == s
    assert error_from_json(e.to_json()) == e


def test_manifest_round_trip_many_and_pending(store):
    weird = "/in/bad \udcfe name\n.txt"
    entries = [entry(f"/in/f{i:04d}.txt") for i in range(1200)] + [entry(weird)]
    items = [(success(iso(T0), e.path), e) for e in entries]
    saved = store.commit_batch(items)
    got = store.manifest_get(weird)
    # The entry comes back with the output and the path its success record names.
    assert got == dataclasses.replace(
        entry(weird),
        record_id=saved[-1].record_id,
        output_path=weird + ".obs.md",
        recorded_path=weird,
        recorded_duration_ms=10.0,
        recorded_bytes=100,
    )
    many = store.manifest_get_many([e.path for e in entries] + ["/nope"])
    assert len(many) == 1201 and "/nope" not in many
    assert many["/in/f0600.txt"].inode == 42
    store.set_manifest_status("/in/f0001.txt", ManifestStatus.POST_PENDING)
    store.set_manifest_status(weird, ManifestStatus.POST_PENDING)
    assert {e.path for e in store.manifest_pending()} == {"/in/f0001.txt", weird}
    store.set_manifest_status(weird, ManifestStatus.CONSUMED)
    assert store.manifest_get(weird).status == ManifestStatus.CONSUMED
    # A failed outcome replaces the entry and names the error record.
    err = store.commit_error(error(iso(T0), "/in/f0002.txt"), entry("/in/f0002.txt", ManifestStatus.FAILED))
    assert store.manifest_get("/in/f0002.txt").record_id == err.error_id


def test_report_figures(store):
    t = iso(T0 + timedelta(minutes=5))
    store.commit_batch(
        [
            (success(t, "/in/a", "/in", dur=10, nbytes=100), entry("/in/a")),
            (success(t, "/in/b", "/in", dur=30, nbytes=300), entry("/in/b")),
            (
                success(iso(T0 + timedelta(minutes=6)), "/up/c", "/up", dur=5, nbytes=7),
                entry("/up/c", bucket="/up"),
            ),
            (error(iso(T0 + timedelta(minutes=7)), "/in/x"), entry("/in/x", ManifestStatus.FAILED)),
            # Informational and file-less errors are error records, not failed files.
            (error(t, "/in/a", cat=Category.FILE_CONTENT), None),
            (error(t, None, None, cat=Category.CONFIGURATION), None),
        ]
    )
    r = store.report()
    assert (r.total_success, r.total_failed, r.total_errors) == (3, 1, 3)
    assert r.errors_by_category == {"Configuration": 1, "FileAccess": 1, "FileContent": 1}
    d_in, d_up = r.directories
    assert (d_in.directory, d_in.total, d_in.successful, d_in.failed, d_in.bytes) == ("/in", 3, 2, 1, 400)
    assert d_in.avg_duration_ms == pytest.approx(20.0)
    assert (d_in.last_file, d_in.last_at) == ("/in/x", iso(T0 + timedelta(minutes=7)))
    assert (d_up.total, d_up.successful, d_up.last_file) == (1, 1, "/up/c")
    later = store.report(iso(T0 + timedelta(minutes=6)))
    assert [(d.directory, d.total) for d in later.directories] == [("/in", 1), ("/up", 1)]
    assert later.errors_by_category == {"FileAccess": 1}
    assert store.report(iso(T0 + timedelta(hours=2))).directories == ()


def test_files_count_by_their_latest_outcome(store):
    """Issue 13.9: an empty file that later succeeded still counted as failed in its directory.
    A later outcome of a failed path takes that failure out of every figure, in the hour it was
    counted in, in the same batch or a later one; a failed-again file stays one failed file."""
    h0, h2 = T0 + timedelta(minutes=10), T0 + timedelta(hours=2, minutes=10)
    store.commit_batch(
        [
            (error(iso(h0), "/in/empty.txt"), entry("/in/empty.txt", ManifestStatus.FAILED)),
            (error(iso(h0), "/in/bad.txt"), entry("/in/bad.txt", ManifestStatus.FAILED)),
            (error(iso(h0), "/in/twice.txt"), entry("/in/twice.txt", ManifestStatus.FAILED)),
            (success(iso(h0), "/in/ok.txt"), entry("/in/ok.txt")),
        ]
    )
    r = store.report()
    assert (r.total_success, r.total_failed, r.directories[0].failed) == (1, 3, 3)
    store.commit_batch(
        [
            (success(iso(h2), "/in/empty.txt"), entry("/in/empty.txt")),  # it got its content
            (
                error(iso(h2 + timedelta(minutes=1)), "/in/twice.txt"),
                entry("/in/twice.txt", ManifestStatus.FAILED),
            ),
            (
                error(iso(h2 + timedelta(minutes=2)), "/in/twice.txt"),
                entry("/in/twice.txt", ManifestStatus.FAILED),
            ),
        ]
    )
    r = store.report()
    assert r.figures.to_json() == {
        "processed": 4,
        "successful": 2,
        "failed": 2,  # bad.txt and twice.txt
        "errorRecords": 5,
        "successRate": 50.0,
        "failureRate": 50.0,
    }
    [d] = r.directories
    assert (d.total, d.successful, d.failed) == (4, 2, 2)
    assert store.counts()["failed_files"] == 2
    # From the second hour on: empty.txt succeeded and twice.txt failed there; bad.txt is older.
    later = store.report(iso(T0 + timedelta(hours=1)))
    assert (later.total_success, later.total_failed) == (1, 1)
    inside = store.report(iso(h2 - timedelta(minutes=5)))  # the first, partial hour: raw records
    assert (inside.total_success, inside.total_failed) == (1, 1)
    before = [store.report(s) for s in (None, iso(T0 + timedelta(hours=1)))]
    store.rebuild_aggregates()  # the incremental aggregates equal the ones from the records
    assert [store.report(s) for s in (None, iso(T0 + timedelta(hours=1)))] == before


def test_a_failed_file_moved_away_stays_failed_and_paths_are_the_manifests(store):
    """A failure whose file `on_failure` moves (post_pending, then consumed) is never superseded:
    a new file dropped at the same path is a new file. The record names where the file is now;
    the path that counts is the manifest's."""
    t = lambda m: iso(T0 + timedelta(minutes=m))  # noqa: E731
    store.commit_batch([(error(t(1), "/in/failed/x.txt"), entry("/in/x.txt", ManifestStatus.POST_PENDING))])
    store.set_manifest_status("/in/x.txt", ManifestStatus.CONSUMED)
    store.commit_batch([(success(t(2), "/in/x.txt"), entry("/in/x.txt"))])  # a new x.txt
    r = store.report()
    assert (r.total_success, r.total_failed) == (1, 1)
    # Kept in place (FAILED), a failure recorded under the manifest's path is superseded.
    store.commit_batch([(error(t(3), "/in/y.txt"), entry("/in/y.txt", ManifestStatus.FAILED))])
    store.commit_batch([(success(t(4), "/in/y.txt"), entry("/in/y.txt"))])
    r = store.report()
    assert (r.total_success, r.total_failed) == (2, 1)


def _brute_force(items, since):
    dirs: dict[str, list] = {}
    cats: dict[str, int] = {}
    failed_total = 0
    for rec, ent in items:
        if since and rec.timestamp < since:
            continue
        if isinstance(rec, SuccessRecord):
            d = dirs.setdefault(rec.watch_dir, [0, 0, 0.0, 0])
            d[0] += 1
            d[2] += rec.duration_ms
            d[3] += rec.bytes_processed
        else:
            cats[str(rec.category)] = cats.get(str(rec.category), 0) + 1
            if ent is not None and ent.status == ManifestStatus.FAILED:
                failed_total += 1
                dirs.setdefault(rec.watch_dir, [0, 0, 0.0, 0])[1] += 1
    return dirs, cats, failed_total


def test_report_matches_the_records_for_any_since(store):
    rng = random.Random(7)
    items = []
    for i in range(3000):
        ts = iso(T0 + timedelta(seconds=rng.randrange(0, 3 * 86400), milliseconds=rng.randrange(1000)))
        wd = rng.choice(["/a", "/b", "/c"])
        path = f"{wd}/f{i}"
        kind = rng.random()
        if kind < 0.8:
            items.append(
                (
                    success(ts, path, wd, dur=rng.uniform(1, 100), nbytes=rng.randrange(10_000)),
                    entry(path, bucket=wd),
                )
            )
        elif kind < 0.9:
            items.append(
                (error(ts, path, wd, cat=rng.choice(list(Category))), entry(path, ManifestStatus.FAILED, wd))
            )
        else:
            items.append((error(ts, path, wd, cat=rng.choice(list(Category))), None))
    for i in range(0, len(items), 250):  # several batches, out of time order
        store.commit_batch(items[i : i + 250])
    sinces = [
        None,
        iso(T0),
        iso(T0 + timedelta(hours=5)),
        iso(T0 + timedelta(hours=30, minutes=17, seconds=3)),
    ]
    sinces += [
        iso(T0 + timedelta(seconds=rng.randrange(0, 3 * 86400), milliseconds=rng.randrange(1000)))
        for _ in range(8)
    ]
    for since in sinces:
        r = store.report(since)
        dirs, cats, failed_total = _brute_force(items, since)
        assert r.errors_by_category == {c: n for c, n in cats.items() if n}, since
        assert r.total_failed == failed_total
        assert r.total_success == sum(d[0] for d in dirs.values())
        got = {d.directory: (d.successful, d.failed, d.bytes) for d in r.directories}
        assert got == {k: (v[0], v[1], v[3]) for k, v in dirs.items() if v[0] + v[1]}, since
        for d in r.directories:
            assert d.avg_duration_ms == pytest.approx(
                dirs[d.directory][2] / d.successful if d.successful else 0.0
            )
    # The aggregates kept incrementally equal the ones recomputed from the records.
    before = [store.report(s) for s in sinces]
    store.rebuild_aggregates()
    after = [store.report(s) for s in sinces]
    for b, a in zip(before, after, strict=True):
        assert a.errors_by_category == b.errors_by_category and a.total_success == b.total_success
        assert [(d.directory, d.total, d.failed, d.bytes, d.last_file, d.last_at) for d in a.directories] == [
            (d.directory, d.total, d.failed, d.bytes, d.last_file, d.last_at) for d in b.directories
        ]


def test_errors_filters_newest_first(store):
    for i in range(10):
        cat = Category.FILE_ACCESS if i % 2 else Category.EXTERNAL_TOOL
        store.commit_error(
            error(iso(T0 + timedelta(seconds=i)), f"/in/file{i}.txt", cat=cat, msg=f"Problem number {i}")
        )
    all_ = store.errors(limit=0)
    assert [e.file_path for e in all_] == [f"/in/file{i}.txt" for i in reversed(range(10))]
    assert len(store.errors(limit=3)) == 3
    assert [e.file_path for e in store.errors(since=iso(T0 + timedelta(seconds=8)))] == [
        "/in/file9.txt",
        "/in/file8.txt",
    ]
    fa = store.errors(category="FileAccess")
    assert len(fa) == 5 and all(e.category == Category.FILE_ACCESS for e in fa)
    assert [e.message for e in store.errors(text="NUMBER 3")] == ["Problem number 3"]
    assert [e.file_path for e in store.errors(text="FILE7.TXT")] == ["/in/file7.txt"]
    eid = all_[4].error_id
    assert [e.error_id for e in store.errors(text=eid.lower())] == [eid]
    assert store.errors(category="FileAccess", text="number 2") == []


def test_integrity_counts_and_file_modes(tmp_path):
    state = tmp_path / "fresh" / "state"
    s = SQLiteStore(state)
    s.commit_success(success(iso(T0)), entry("/in/a.txt"))
    assert s.integrity_check() == "ok"
    assert s.counts() == {
        "successes": 1,
        "errors": 0,
        "failed_files": 0,
        "manifest": 1,
        "post_pending": 0,
        "schema_version": schema.SCHEMA_VERSION,
    }
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    for name in ("obtui.db", "obtui.db-wal", "obtui.db-shm"):
        assert (state / name).exists(), name
        assert stat.S_IMODE(os.stat(state / name).st_mode) == 0o600, name
    s.close()


def test_schema_versions_and_read_only_use(tmp_path):
    state = tmp_path / "state"
    with pytest.raises(FileNotFoundError):
        SQLiteStore(state, readonly=True)
    assert not state.exists()
    writer = SQLiteStore(state)
    reader = SQLiteStore(state, readonly=True)
    writer.commit_success(success(iso(T0)), entry("/in/a.txt"))
    assert reader.report().total_success == 1  # sees the writer's commits while it is open
    with pytest.raises(sqlite3.Error):
        reader.commit_success(success(iso(T0)), entry("/in/b.txt"))
    reader.close()
    writer.close()
    con = sqlite3.connect(state / "obtui.db")
    con.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(schema.SchemaError, match="newer"):
        SQLiteStore(state)


def test_closed_store_refuses_work(tmp_path):
    s = SQLiteStore(tmp_path / "state")
    s.close()
    s.close()
    with pytest.raises(sqlite3.ProgrammingError):
        s.commit_error(error(iso(T0)))
    with pytest.raises(sqlite3.ProgrammingError):
        s.report()


def test_threads_write_and_read_concurrently(store):
    n_threads, per_thread = 6, 150
    ids: list[str] = []
    lock = threading.Lock()
    failures: list[BaseException] = []
    start = threading.Barrier(n_threads + 2)
    done = threading.Event()

    def write(t: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                path = f"/in/t{t}/{i}"
                ts = iso(T0 + timedelta(seconds=i % 3))
                rec = (
                    store.commit_success(success(ts, path), entry(path))
                    if i % 5
                    else store.commit_error(error(ts, path), None)
                )
                with lock:
                    ids.append(getattr(rec, "record_id", "") or rec.error_id)
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    def read() -> None:
        try:
            start.wait()
            while not done.is_set():
                r = store.report()
                assert r.total_success <= n_threads * per_thread
                store.manifest_get("/in/t0/1")
                store.errors(limit=5)
        except BaseException as exc:
            failures.append(exc)

    writers = [threading.Thread(target=write, args=(t,)) for t in range(n_threads)]
    readers = [threading.Thread(target=read) for _ in range(2)]
    for th in writers + readers:
        th.start()
    for th in writers:
        th.join(60)
    done.set()
    for th in readers:
        th.join(60)
    assert not failures, failures
    assert len(ids) == len(set(ids)) == n_threads * per_thread
    assert all(re.fullmatch(r"(SUCCESS|ERR)-2026-02-18-04000[0-2]-\d{3,}", i) for i in ids)
    c = store.counts()
    assert (c["successes"], c["errors"]) == (n_threads * per_thread * 4 // 5, n_threads * per_thread // 5)
    assert store.report().total_success == c["successes"]
    assert store.integrity_check() == "ok"


def test_migrate_is_idempotent_and_stepwise(tmp_path):
    con = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    assert schema.migrate(con) == schema.SCHEMA_VERSION
    assert schema.migrate(con) == schema.SCHEMA_VERSION
    tables = {r[0] for r in con.execute("select name from sqlite_master where type = 'table'")}
    assert {"manifest", "successes", "errors", "dir_stats", "hour_dir", "hour_cat"} <= tables
    con.close()


def test_unicode_paths_are_stored_as_text(tmp_path):
    s = SQLiteStore(Path(tmp_path / "state"))
    s.commit_success(success(iso(T0), "/in/ünïcødé.txt"), entry("/in/ünïcødé.txt"))
    s.close()
    con = sqlite3.connect(tmp_path / "state" / "obtui.db")
    assert con.execute("select file_path, typeof(file_path) from successes").fetchall() == [
        ("/in/ünïcødé.txt", "text")
    ]
    con.close()
