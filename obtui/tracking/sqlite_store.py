"""The SQLite record store: manifest, success and error records, and the aggregates behind
`report()`, in `<state_dir>/obtui.db` (schema in `schema.py`).

Threads: every thread reads through its own connection (WAL lets readers run beside the writer);
writes share one connection and are serialised by a lock. Record ids are assigned inside the
write transaction, so they follow commit order. One process writes at a time (the runner lock).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from obtui.tracking import latest, schema
from obtui.tracking.codec import error_from_json, now_iso, success_from_json, utc_iso
from obtui.tracking.interfaces import Report
from obtui.tracking.records import ErrorRecord, ManifestEntry, ManifestStatus, SuccessRecord
from obtui.tracking.report_query import read_report
from obtui.tracking.schema import db_text, py_text

DB_NAME = "obtui.db"
_CHUNK = 500  # parameters per IN (...) query
_SEQ_CACHE = 4096  # id-sequence prefixes remembered before the cache is reset

_INSERT_SUCCESS = "INSERT INTO successes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"  # counted
_INSERT_ERROR = "INSERT INTO errors VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
MANIFEST_COLS = "path, bucket, sha256, status, processed_at, size, mtime_ns, inode, rule, record_id, moved_to"
# A new outcome starts a fresh entry: moved_to is set only by the post-action that follows it.
_REPLACE_MANIFEST = (
    f"INSERT OR REPLACE INTO manifest({MANIFEST_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)"
)
# The manifest entry with the output, the path, the duration and the bytes its record names
# (LEFT JOINs on primary keys); read with `_joined`.
_MANIFEST_JOINED = (
    "SELECT "
    + ", ".join(f"m.{c.strip()}" for c in MANIFEST_COLS.split(","))
    + ", s.output_path, coalesce(s.file_path, e.file_path), s.duration_ms, s.bytes FROM manifest m "
    "LEFT JOIN successes s ON s.record_id = m.record_id LEFT JOIN errors e ON e.error_id = m.record_id"
)

Item = tuple[SuccessRecord | ErrorRecord, ManifestEntry | None]


def _ts(timestamp: str) -> str:
    try:
        return utc_iso(timestamp)
    except ValueError:
        return now_iso()


def manifest_row(row: tuple[Any, ...]) -> ManifestEntry:
    """A ManifestEntry from a row of `MANIFEST_COLS`."""
    path, bucket, sha, status, processed_at, size, mtime_ns, inode, rule, record_id, moved_to = row
    return ManifestEntry(
        py_text(path), py_text(bucket), sha, ManifestStatus(status), processed_at, size, mtime_ns, inode,
        rule, record_id, py_text(moved_to),
    )  # fmt: skip


def _joined(row: tuple[Any, ...]) -> ManifestEntry:
    """A ManifestEntry from a row of `_MANIFEST_JOINED` (with the output and path its record names)."""
    n = MANIFEST_COLS.count(",") + 1
    output, recorded, duration, nbytes = row[n : n + 4]
    return replace(
        manifest_row(row[:n]),
        output_path=py_text(output) if output is not None else None,
        recorded_path=py_text(recorded) if recorded is not None else None,
        recorded_duration_ms=duration or 0.0,
        recorded_bytes=nbytes or 0,
    )


def _dumps(d: dict[str, Any]) -> str:
    # ensure_ascii keeps surrogate-escaped paths as \udcxx escapes that load back exactly.
    return json.dumps(d, separators=(",", ":"))


class SQLiteStore:
    """`RecordStore` on SQLite. `readonly=True` (for report commands) never creates the state dir
    or database (FileNotFoundError when missing) and opens read-only connections."""

    def __init__(self, state_dir: Path, *, readonly: bool = False) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / DB_NAME
        self._readonly = readonly
        self._wlock = threading.Lock()
        self._conlock = threading.Lock()
        self._local = threading.local()
        self._readers: list[tuple[weakref.ref[threading.Thread], sqlite3.Connection]] = []
        self._seq: dict[str, int] = {}
        self._closed = False
        self._wcon: sqlite3.Connection | None = None
        if readonly:
            if not self.path.is_file():
                raise FileNotFoundError(f"no record database at {self.path}")
            probe = self._connect(readonly=True)
            try:
                version = probe.execute("PRAGMA user_version").fetchone()[0]
            finally:
                probe.close()
            if version != schema.SCHEMA_VERSION:
                con = self._connect(readonly=False)  # an older database: bring it up to date once
                try:
                    schema.migrate(con)
                finally:
                    con.close()
            return
        if not self.state_dir.exists():
            self.state_dir.mkdir(parents=True, mode=0o700)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        self._wcon = self._connect(readonly=False)
        self._wcon.execute("PRAGMA journal_mode=WAL")
        schema.migrate(self._wcon)
        for suffix in ("", "-wal", "-shm"):
            try:
                os.chmod(f"{self.path}{suffix}", 0o600)
            except OSError:
                pass

    # ---- connections --------------------------------------------------------------------------

    def _connect(self, readonly: bool) -> sqlite3.Connection:
        if readonly:
            uri = self.path.resolve().as_uri() + "?mode=ro"
            con = sqlite3.connect(uri, uri=True, timeout=5, isolation_level=None, check_same_thread=False)
        else:
            con = sqlite3.connect(self.path, timeout=5, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA busy_timeout=5000")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("PRAGMA foreign_keys=ON")
        return con

    def _reader(self) -> sqlite3.Connection:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is not None:
            return con
        with self._conlock:
            if self._closed:
                raise sqlite3.ProgrammingError("the record store is closed")
            alive = []
            for ref, c in self._readers:  # connections of threads that have ended
                t = ref()
                if t is None or not t.is_alive():
                    c.close()
                else:
                    alive.append((ref, c))
            con = self._connect(readonly=self._readonly)
            alive.append((weakref.ref(threading.current_thread()), con))
            self._readers = alive
        self._local.con = con
        return con

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """The write connection inside BEGIN IMMEDIATE ... COMMIT, holding the write lock."""
        with self._wlock:
            con = self._wcon
            if con is None:
                raise sqlite3.ProgrammingError("the record store is closed or read-only")
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise

    def reading(self) -> sqlite3.Connection:
        """This thread's read connection, for the store's companion modules (requests, retention)."""
        return self._reader()

    def writing(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, rolled back on an exception)."""
        return self._transaction()

    # ---- writes -------------------------------------------------------------------------------

    def commit_success(self, record: SuccessRecord, entry: ManifestEntry) -> SuccessRecord:
        """Store the record and the manifest entry in one transaction; return it with its id."""
        return self.commit_batch([(record, entry)])[0]  # type: ignore[return-value]

    def commit_error(self, record: ErrorRecord, entry: ManifestEntry | None = None) -> ErrorRecord:
        """Store the error record (and, when given, the manifest entry) in one transaction."""
        return self.commit_batch([(record, entry)])[0]  # type: ignore[return-value]

    def commit_batch(self, items: list[Item]) -> list[SuccessRecord | ErrorRecord]:
        """Group commit: all items in one transaction, ids assigned in order.

        An error record counts as a failed file (`failed_file`) when it comes with a manifest
        entry: FAILED, or POST_PENDING (failed, and to be moved or deleted by `on_failure`).
        """
        if not items:
            return []
        with self._transaction() as con:
            if len(self._seq) > _SEQ_CACHE:
                self._seq.clear()
            outcomes = latest.LatestOutcomes(con, items)  # files count by their latest outcome
            return outcomes.settle(con, self._insert(con, items))

    def _insert(self, con: sqlite3.Connection, items: Iterable[Item]) -> list[SuccessRecord | ErrorRecord]:
        out: list[SuccessRecord | ErrorRecord] = []
        srows, erows, mrows = [], [], []
        # watch_dir -> [successful, failed, duration sum, bytes, last file, last at]
        dirs: dict[Any, list[Any]] = {}
        hours: dict[tuple[str, Any], list[Any]] = {}
        cats: dict[tuple[str, str], list[int]] = {}
        for rec, entry in items:
            ts = _ts(rec.timestamp)
            wd = db_text(rec.watch_dir or "")
            outcome: tuple[int, int, float, int] | None = None
            if isinstance(rec, SuccessRecord):
                rec = replace(rec, record_id=self._next_id(con, "SUCCESS", ts))
                rid = rec.record_id
                srows.append((
                    rid, ts, db_text(rec.file_path), wd, rec.rule, rec.action, db_text(rec.output_path), rec.duration_ms,
                    rec.bytes_processed, rec.file_type, rec.encoding, rec.sha256, _dumps(rec.to_json()),
                ))  # fmt: skip
                outcome = (1, 0, rec.duration_ms, rec.bytes_processed)
            else:
                failed = latest.settles_failed(entry)
                rec = replace(rec, error_id=self._next_id(con, "ERR", ts))
                rid = rec.error_id
                erows.append((
                    rid, ts, str(rec.severity), str(rec.category), rec.component, rec.operation,
                    db_text(rec.file_path), wd, rec.rule, db_text(rec.message), int(failed), _dumps(rec.to_json()),
                ))  # fmt: skip
                c = cats.setdefault((ts[:13], str(rec.category)), [0, 0])
                c[0] += 1
                c[1] += failed
                if failed:
                    outcome = (0, 1, 0.0, 0)
            if outcome is not None:
                d = dirs.setdefault(wd, [0, 0, 0.0, 0, None, ""])
                h = hours.setdefault((ts[:13], wd), [0, 0, 0.0, 0])
                for i in range(4):
                    d[i] += outcome[i]
                    h[i] += outcome[i]
                if ts >= d[5]:
                    d[4], d[5] = db_text(rec.file_path), ts
            if entry is not None:
                e = entry
                mrows.append((
                    db_text(e.path), db_text(e.bucket), e.sha256, str(e.status), e.processed_at, e.size, e.mtime_ns,
                    e.inode, e.rule, rid,
                ))  # fmt: skip
            out.append(rec)
        con.executemany(_INSERT_SUCCESS, srows)
        con.executemany(_INSERT_ERROR, erows)
        con.executemany(_REPLACE_MANIFEST, mrows)
        con.executemany(schema.UPSERT_DIR, [(k, *v) for k, v in dirs.items()])
        con.executemany(schema.UPSERT_HOUR_DIR, [(*k, *v) for k, v in hours.items()])
        con.executemany(schema.UPSERT_HOUR_CAT, [(*k, *v) for k, v in cats.items()])
        return out

    def _next_id(self, con: sqlite3.Connection, kind: str, ts: str) -> str:
        """`KIND-YYYY-MM-DD-HHMMSS-NNN` for the record's UTC second; NNN continues the highest
        number stored for that second, so ids stay unique across restarts."""
        prefix = f"{kind}-{ts[0:10]}-{ts[11:13]}{ts[14:16]}{ts[17:19]}-"
        n = self._seq.get(prefix)
        if n is None:
            table, col = ("successes", "record_id") if kind == "SUCCESS" else ("errors", "error_id")
            row = con.execute(
                f"SELECT max(CAST(substr({col}, ?) AS INTEGER)) FROM {table} WHERE {col} > ? AND {col} < ?",
                (len(prefix) + 1, prefix, prefix + "~"),
            ).fetchone()
            n = row[0] or 0
        n += 1
        self._seq[prefix] = n
        return f"{prefix}{n:03d}"

    def set_manifest_status(self, path: str, status: ManifestStatus, moved_to: str | None = None) -> None:
        """Change the status of `path`'s entry (no-op when it has none); `moved_to` records where a
        move post-action put the file, so `--retry` can bring it back."""
        with self._transaction() as con:
            con.execute(
                "UPDATE manifest SET status = ?, moved_to = ? WHERE path = ?",
                (str(status), db_text(moved_to), db_text(path)),
            )

    def rebuild_aggregates(self) -> None:
        """Recompute the report aggregates from the records (a repair tool; never needed normally)."""
        with self._transaction() as con:
            for stmt in schema.REBUILD:
                con.execute(stmt)

    # ---- manifest reads -----------------------------------------------------------------------

    def manifest_get(self, path: str) -> ManifestEntry | None:
        """The entry for `path`, or None."""
        row = self._reader().execute(f"{_MANIFEST_JOINED} WHERE m.path = ?", (db_text(path),)).fetchone()
        return _joined(row) if row else None

    def manifest_get_many(self, paths: list[str]) -> dict[str, ManifestEntry]:
        """The entries of those `paths` that have one, by path."""
        con, found = self._reader(), {}
        for i in range(0, len(paths), _CHUNK):
            chunk = [db_text(p) for p in paths[i : i + _CHUNK]]
            marks = ",".join("?" * len(chunk))
            for row in con.execute(f"{_MANIFEST_JOINED} WHERE m.path IN ({marks})", chunk):
                e = _joined(row)
                found[e.path] = e
        return found

    def manifest_pending(self) -> list[ManifestEntry]:
        """Entries whose post-action is still to be carried out (status POST_PENDING)."""
        sql = f"{_MANIFEST_JOINED} WHERE m.status = 'post_pending' ORDER BY m.processed_at"
        return [_joined(r) for r in self._reader().execute(sql)]

    # ---- record reads -------------------------------------------------------------------------

    def errors(
        self, since: str | None = None, limit: int = 50, category: str | None = None, text: str | None = None
    ) -> list[ErrorRecord]:
        """Newest first, at most `limit` (all when `limit` <= 0). `text` filters on message, file
        path and error id (case-insensitive)."""
        where: list[str] = []
        args: list[Any] = []
        if since:
            where.append("ts >= ?")
            args.append(utc_iso(since))
        if category:
            where.append("category = ?")
            args.append(category)
        if text:
            where.append(
                "(instr(lower(message), ?) OR instr(lower(coalesce(file_path, '')), ?) OR instr(lower(error_id), ?))"
            )
            args += [text.lower()] * 3
        sql = "SELECT json FROM errors" + (" WHERE " + " AND ".join(where) if where else "")
        rows = self._reader().execute(
            sql + " ORDER BY ts DESC, rowid DESC LIMIT ?", (*args, limit if limit > 0 else -1)
        )
        return [error_from_json(json.loads(r[0])) for r in rows]

    def error(self, error_id: str) -> ErrorRecord | None:
        """The error record with that id, or None."""
        row = self._reader().execute("SELECT json FROM errors WHERE error_id = ?", (error_id,)).fetchone()
        return error_from_json(json.loads(row[0])) if row else None

    def successes(self, since: str | None = None, limit: int = 50) -> list[SuccessRecord]:
        """Success records, newest first, at most `limit` (all when `limit` <= 0)."""
        sql, args = "SELECT json FROM successes", []
        if since:
            sql, args = sql + " WHERE ts >= ?", [utc_iso(since)]
        rows = self._reader().execute(
            sql + " ORDER BY ts DESC, rowid DESC LIMIT ?", (*args, limit if limit > 0 else -1)
        )
        return [success_from_json(json.loads(r[0])) for r in rows]

    def report(self, since: str | None = None) -> Report:
        """Per-directory figures and errors by category, all time or from `since` (ISO 8601).
        Its cost does not grow with the number of records stored (see `report_query`)."""
        return read_report(self._reader(), since)

    # ---- maintenance --------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Row counts, for `--metrics` and diagnostics."""
        con = self._reader()
        one = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "successes": one("SELECT count(*) FROM successes"),
            "errors": one("SELECT count(*) FROM errors"),
            "failed_files": one("SELECT coalesce(sum(failed), 0) FROM dir_stats"),
            "manifest": one("SELECT count(*) FROM manifest"),
            "post_pending": one("SELECT count(*) FROM manifest WHERE status = 'post_pending'"),
            "schema_version": one("PRAGMA user_version"),
        }

    def integrity_check(self) -> str:
        """`PRAGMA integrity_check`: "ok", or the problems found, one a line."""
        return "\n".join(str(r[0]) for r in self._reader().execute("PRAGMA integrity_check"))

    def close(self) -> None:
        """Close every connection; later calls fail. Safe to call twice."""
        with self._wlock, self._conlock:
            if self._closed:
                return
            self._closed = True
            if self._wcon is not None:
                try:
                    self._wcon.execute("PRAGMA optimize")
                except sqlite3.Error:
                    pass
                self._wcon.close()
                self._wcon = None
            for _, con in self._readers:
                con.close()
            self._readers = []
