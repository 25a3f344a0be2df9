"""Files count by their latest outcome (`obtui.api.snapshot.Figures`): around one write batch,
which failure each path still counts as a failed file, and the corrections when a later outcome
of that path supersedes it.

A failure counts while the path's manifest entry says `failed` and points at it. A new outcome for
the path (a success, or a failure again) clears that record's `failed_file` and takes it out of
`dir_stats`, `hour_dir` and `hour_cat` in the hour it was counted in, in the same transaction, so
`report(since)`, `rebuild_aggregates()` and `prune` keep agreeing. A failure whose file is moved or
deleted by `on_failure` (`post_pending`, then `consumed`) is never superseded: a new file dropped
at that path is a new file. Paths are the manifest's (a record names where the file is now).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from obtui.tracking.records import ErrorRecord, ManifestEntry, ManifestStatus, SuccessRecord
from obtui.tracking.schema import db_text

_CHUNK = 500  # parameters per IN (...) query

_COUNTED = (
    "SELECT m.path, e.error_id FROM manifest m JOIN errors e ON e.error_id = m.record_id "
    "WHERE m.status = 'failed' AND e.failed_file = 1 AND m.path IN ({})"
)
_DETAILS = "SELECT error_id, ts, watch_dir, category FROM errors WHERE failed_file = 1 AND error_id IN ({})"
_CLEAR = [
    "UPDATE errors SET failed_file = 0 WHERE error_id = :id",
    "UPDATE dir_stats SET failed = failed - 1 WHERE watch_dir = :wd",
    "UPDATE hour_dir SET failed = failed - 1 WHERE hour = :hour AND watch_dir = :wd",
    "UPDATE hour_cat SET failed = failed - 1 WHERE hour = :hour AND category = :cat",
]


def _chunked(con: sqlite3.Connection, sql: str, keys: list[Any]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for i in range(0, len(keys), _CHUNK):
        chunk = keys[i : i + _CHUNK]
        rows += con.execute(sql.format(",".join("?" * len(chunk))), chunk).fetchall()
    return rows


class LatestOutcomes:
    """Made inside the write transaction before the batch is inserted (it reads the manifest the
    batch is about to replace); `settle` after, with the records as inserted (with their ids)."""

    def __init__(self, con: sqlite3.Connection, items: Sequence[tuple[Any, ManifestEntry | None]]) -> None:
        self._items = items
        paths = list({db_text(e.path) for _, e in items if e is not None})
        self._counted: dict[Any, str | None] = {p: eid for p, eid in _chunked(con, _COUNTED, paths)}

    def settle(
        self, con: sqlite3.Connection, saved: list[SuccessRecord | ErrorRecord]
    ) -> list[SuccessRecord | ErrorRecord]:
        """Supersede, in batch order, the failures that a later outcome of their path replaces;
        return `saved` unchanged."""
        superseded: list[str] = []
        for (_, entry), rec in zip(self._items, saved, strict=True):
            # An outcome, as `SQLiteStore` counts them: a success, or an error settling its file.
            failure = (
                isinstance(rec, ErrorRecord)
                and entry is not None
                and entry.status
                in (
                    ManifestStatus.FAILED,
                    ManifestStatus.POST_PENDING,
                )
            )
            if entry is None or not (isinstance(rec, SuccessRecord) or failure):
                continue
            path = db_text(entry.path)
            if (prev := self._counted.get(path)) is not None:
                superseded.append(prev)
            kept = failure and entry.status == ManifestStatus.FAILED
            self._counted[path] = rec.error_id if kept and isinstance(rec, ErrorRecord) else None
        for eid, ts, wd, cat in _chunked(con, _DETAILS, superseded):
            for sql in _CLEAR:
                con.execute(sql, {"id": eid, "wd": wd, "hour": ts[:13], "cat": cat})
        return saved
