"""The SQLite schema of the record store, its migrations (versioned by `PRAGMA user_version`) and
the SQL that keeps the report aggregates.

Timestamps (`ts`) are ISO 8601 UTC with milliseconds and Z, so they sort and compare as text.
Two aggregate tables keep `report()` independent of how many records are stored; both are updated
in the same transaction as the records they summarise:

- `dir_stats`: per watch dir, all time (successful, failed, durations, bytes, last file).
- `hour_dir` / `hour_cat`: the same per UTC hour (`YYYY-MM-DDTHH`), per dir and per error
  category, so `report(since)` reads whole hours from them and only the records of the first,
  partial hour from the record tables.
"""

from __future__ import annotations

import sqlite3
from typing import Any

SCHEMA_VERSION = 3


class SchemaError(RuntimeError):
    """The database cannot be used by this version of obtui."""


_V1 = """
CREATE TABLE manifest(
    path TEXT PRIMARY KEY, bucket TEXT NOT NULL, sha256 TEXT NOT NULL, status TEXT NOT NULL,
    processed_at TEXT NOT NULL, size INTEGER NOT NULL DEFAULT 0, mtime_ns INTEGER NOT NULL DEFAULT 0,
    inode INTEGER NOT NULL DEFAULT 0, rule TEXT NOT NULL DEFAULT '', record_id TEXT NOT NULL DEFAULT '');
CREATE INDEX manifest_post_pending ON manifest(status) WHERE status = 'post_pending';
CREATE TABLE successes(
    record_id TEXT PRIMARY KEY, ts TEXT NOT NULL, file_path TEXT, watch_dir TEXT NOT NULL,
    rule TEXT, action TEXT, output_path TEXT, duration_ms REAL NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0, file_type TEXT, encoding TEXT, sha256 TEXT, json TEXT NOT NULL);
CREATE INDEX successes_ts ON successes(ts, watch_dir, duration_ms, bytes);
CREATE INDEX successes_dir_ts ON successes(watch_dir, ts);
CREATE TABLE errors(
    error_id TEXT PRIMARY KEY, ts TEXT NOT NULL, severity TEXT NOT NULL, category TEXT NOT NULL,
    component TEXT, operation TEXT, file_path TEXT, watch_dir TEXT NOT NULL, rule TEXT, message TEXT,
    failed_file INTEGER NOT NULL DEFAULT 0, json TEXT NOT NULL);
CREATE INDEX errors_ts ON errors(ts, category, watch_dir, failed_file);
CREATE INDEX errors_category_ts ON errors(category, ts);
CREATE INDEX errors_dir_category ON errors(watch_dir, category);
CREATE TABLE dir_stats(
    watch_dir TEXT PRIMARY KEY, successful INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0,
    duration_sum REAL NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0, last_file TEXT, last_at TEXT);
CREATE TABLE hour_dir(
    hour TEXT NOT NULL, watch_dir TEXT NOT NULL, successful INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0, duration_sum REAL NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY(hour, watch_dir)) WITHOUT ROWID;
CREATE TABLE hour_cat(
    hour TEXT NOT NULL, category TEXT NOT NULL, total INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(hour, category)) WITHOUT ROWID;
"""

# v2: where a post-action moved a file (so `--retry` can bring it back), and durable requests from
# clients to the runner (`--retry`, the dashboard's retry keys; see `tracking/requests.py`).
_V2 = """
ALTER TABLE manifest ADD COLUMN moved_to TEXT;
CREATE TABLE requests(
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, path TEXT NOT NULL DEFAULT '', bucket TEXT NOT NULL DEFAULT '',
    moved_to TEXT, requested_at TEXT NOT NULL, UNIQUE(kind, path));
"""


def migrate(con: sqlite3.Connection) -> int:
    """Bring the database to `SCHEMA_VERSION`, one transaction per step; return the version.

    `con` must be in autocommit mode (isolation_level=None). Raises SchemaError for a database
    written by a newer obtui.
    """
    version = con.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"the record database has schema version {version}, newer than this obtui knows "
            f"({SCHEMA_VERSION}); upgrade obtui or use another --state-dir"
        )
    while version < SCHEMA_VERSION:
        con.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated between our read and the write lock.
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version < SCHEMA_VERSION:
                for stmt in MIGRATIONS[version].split(";"):
                    if stmt.strip():
                        con.execute(stmt)
                version += 1
                con.execute(f"PRAGMA user_version = {version}")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return version


UPSERT_DIR = """
INSERT INTO dir_stats(watch_dir, successful, failed, duration_sum, bytes, last_file, last_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(watch_dir) DO UPDATE SET
    successful = successful + excluded.successful, failed = failed + excluded.failed,
    duration_sum = duration_sum + excluded.duration_sum, bytes = bytes + excluded.bytes,
    last_file = CASE WHEN excluded.last_at >= coalesce(last_at, '') THEN excluded.last_file ELSE last_file END,
    last_at = max(coalesce(last_at, ''), excluded.last_at)
"""

UPSERT_HOUR_DIR = """
INSERT INTO hour_dir(hour, watch_dir, successful, failed, duration_sum, bytes) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT(hour, watch_dir) DO UPDATE SET
    successful = successful + excluded.successful, failed = failed + excluded.failed,
    duration_sum = duration_sum + excluded.duration_sum, bytes = bytes + excluded.bytes
"""

UPSERT_HOUR_CAT = """
INSERT INTO hour_cat(hour, category, total, failed) VALUES (?, ?, ?, ?)
ON CONFLICT(hour, category) DO UPDATE SET total = total + excluded.total, failed = failed + excluded.failed
"""

# The outcomes that count: each file's latest (see `latest.py`).
_OUTCOMES = """
    SELECT ts, watch_dir, file_path, 1 AS s, 0 AS f, duration_ms AS d, bytes AS b FROM successes WHERE counted = 1
    UNION ALL
    SELECT ts, watch_dir, file_path, 0, 1, 0.0, 0 FROM errors WHERE failed_file = 1
"""

# Recomputes every aggregate from the record tables (used by tests and `rebuild_aggregates`).
REBUILD = [
    "DELETE FROM dir_stats",
    "DELETE FROM hour_dir",
    "DELETE FROM hour_cat",
    # SQLite takes the bare column file_path from the row holding max(ts).
    f"""INSERT INTO dir_stats(watch_dir, successful, failed, duration_sum, bytes, last_file, last_at)
        SELECT watch_dir, sum(s), sum(f), total(d), sum(b), file_path, max(ts) FROM ({_OUTCOMES})
        GROUP BY watch_dir""",
    f"""INSERT INTO hour_dir(hour, watch_dir, successful, failed, duration_sum, bytes)
        SELECT substr(ts, 1, 13), watch_dir, sum(s), sum(f), total(d), sum(b) FROM ({_OUTCOMES})
        GROUP BY 1, 2""",
    """INSERT INTO hour_cat(hour, category, total, failed)
        SELECT substr(ts, 1, 13), category, count(*), sum(failed_file) FROM errors GROUP BY 1, 2""",
]


# v3: a success counts only while it is its file's latest outcome (`counted`, see `latest.py`).
# Earlier successes of a file still at its path (manifest `done` or `failed`, settled by a later
# record) stop counting; the aggregates are recounted. The ts index covers `counted` for
# `report(since)`'s partial hour.
_V3 = ";".join(
    [
        "ALTER TABLE successes ADD COLUMN counted INTEGER NOT NULL DEFAULT 1",
        """UPDATE successes SET counted = 0 WHERE EXISTS (SELECT 1 FROM manifest m
            WHERE m.path = successes.file_path AND m.status IN ('done', 'failed')
            AND m.record_id != successes.record_id)""",
        "DROP INDEX successes_ts",
        "CREATE INDEX successes_ts ON successes(ts, watch_dir, counted, duration_ms, bytes)",
        *REBUILD,
    ]
)

# Index i holds the statements that bring a database from version i to i + 1.
MIGRATIONS: list[str] = [_V1, _V2, _V3]
assert len(MIGRATIONS) == SCHEMA_VERSION


# Retention (`prune`): remove the records older than a cut-off and keep the aggregates equal to
# what a REBUILD of the remaining records gives, without reading them all. All in one transaction,
# in this order; parameters: the cut-off (ISO 8601), its hour key, and the start and end of that hour.
PRUNE = [
    # All-time figures per dir lose exactly what is removed; a dir with nothing left goes.
    f"""UPDATE dir_stats SET successful = dir_stats.successful - g.s, failed = dir_stats.failed - g.f,
            duration_sum = dir_stats.duration_sum - g.d, bytes = dir_stats.bytes - g.b
        FROM (SELECT watch_dir, sum(s) AS s, sum(f) AS f, total(d) AS d, sum(b) AS b
              FROM ({_OUTCOMES}) WHERE ts < :cut GROUP BY watch_dir) AS g
        WHERE dir_stats.watch_dir = g.watch_dir""",
    "DELETE FROM dir_stats WHERE successful <= 0 AND failed <= 0",
    "DELETE FROM successes WHERE ts < :cut",
    "DELETE FROM errors WHERE ts < :cut",
    # Whole hours before the cut-off's hour lost all their records; the cut-off's own hour is
    # recounted from the records left in it.
    "DELETE FROM hour_dir WHERE hour <= :hour",
    "DELETE FROM hour_cat WHERE hour <= :hour",
    f"""INSERT INTO hour_dir(hour, watch_dir, successful, failed, duration_sum, bytes)
        SELECT :hour, watch_dir, sum(s), sum(f), total(d), sum(b) FROM ({_OUTCOMES})
        WHERE ts >= :start AND ts < :end GROUP BY watch_dir""",
    """INSERT INTO hour_cat(hour, category, total, failed)
        SELECT :hour, category, count(*), sum(failed_file) FROM errors
        WHERE ts >= :start AND ts < :end GROUP BY category""",
]


def db_text(s: str | None) -> str | bytes | None:
    """Text for a column. A path that is not valid UTF-8 (os.fsdecode's surrogate escapes) is kept
    as the original bytes, so it round-trips exactly and still matches in lookups."""
    if s is None or s.isascii():
        return s
    try:
        s.encode()
        return s
    except UnicodeEncodeError:
        try:
            return s.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return s.encode("utf-8", "backslashreplace")


def py_text(v: Any) -> Any:
    """The inverse of `db_text` for a value read back."""
    return v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v
