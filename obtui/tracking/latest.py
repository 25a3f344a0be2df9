"""Files count by their latest outcome (`obtui.api.snapshot.Figures`): around one write batch,
which outcome each path still counts, and the corrections when a later outcome of that path
supersedes it.

An outcome (a success, or an error that settles its file as failed) counts while it is its file's
latest. A path's manifest entry points at its latest outcome; while the file stays where it is
(`done` or `failed`), a new outcome for the path (a success, or a failure again) takes the one it
points at out of the counts: a success gets `counted = 0`, a failure `failed_file = 0`, and it
leaves `dir_stats` and `hour_dir` (and `hour_cat` for a failure) in the hour it was counted in,
with its duration and bytes, in the same transaction, so `report(since)`, `rebuild_aggregates()`
and `prune` keep agreeing. An outcome whose file is moved or deleted by its post-action
(`post_pending`, then `consumed`) is never superseded: a new file dropped at that path is a new
file. Paths are the manifest's (a record names where the file is now after a move).

Over a window (`report(since)`), a file counts when its latest outcome falls in the window, by
that outcome: windows run up to now, so a file with any outcome in the window has its latest there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Literal

from obtui.tracking.records import ErrorRecord, ManifestEntry, ManifestStatus, SuccessRecord
from obtui.tracking.schema import db_text

_CHUNK = 500  # parameters per IN (...) query

_KEPT = "SELECT path, record_id FROM manifest WHERE status IN ('done', 'failed') AND path IN ({})"
# Each takes the superseded records that still count out of the counts and returns what they held.
_FAILURES = (
    "UPDATE errors SET failed_file = 0 WHERE failed_file = 1 AND error_id IN ({}) "
    "RETURNING error_id, ts, watch_dir, category"
)
_SUCCESSES = (
    "UPDATE successes SET counted = 0 WHERE counted = 1 AND record_id IN ({}) "
    "RETURNING record_id, ts, watch_dir, duration_ms, bytes"
)
_CLEAR_FAILURE = [
    "UPDATE dir_stats SET failed = failed - :n WHERE watch_dir = :wd",
    "UPDATE hour_dir SET failed = failed - :n WHERE hour = :hour AND watch_dir = :wd",
    "UPDATE hour_cat SET failed = failed - :n WHERE hour = :hour AND category = :cat",
]
_CLEAR_SUCCESS = [
    "UPDATE dir_stats SET successful = successful - :n, duration_sum = duration_sum - :d, bytes = bytes - :b "
    "WHERE watch_dir = :wd",
    "UPDATE hour_dir SET successful = successful - :n, duration_sum = duration_sum - :d, bytes = bytes - :b "
    "WHERE hour = :hour AND watch_dir = :wd",
]

Counted = Literal["success", "failure"]


def settles_failed(entry: ManifestEntry | None) -> bool:
    """An error record with this manifest entry settles its file as failed (`failed_file`):
    FAILED, or POST_PENDING (failed, and to be moved or deleted by `on_failure`)."""
    return entry is not None and entry.status in (ManifestStatus.FAILED, ManifestStatus.POST_PENDING)


def superseded(prior: ManifestEntry | None) -> Counted | None:
    """The outcome that a new outcome of a path takes out of the counts, by the path's manifest
    entry read before it (joined with its record): its success or failure while the file stayed
    where it was; None for a new file, a moved or deleted one, or a record pruned meanwhile."""
    if prior is None or prior.recorded_path is None:
        return None
    if prior.status == ManifestStatus.DONE:
        return "success"
    return "failure" if prior.status == ManifestStatus.FAILED else None


def _chunked(con: sqlite3.Connection, sql: str, keys: list[Any]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for i in range(0, len(keys), _CHUNK):
        chunk = keys[i : i + _CHUNK]
        rows += con.execute(sql.format(",".join("?" * len(chunk))), chunk).fetchall()
    return rows


def _clear(
    con: sqlite3.Connection, sqls: list[str], rows: list[tuple[Any, str, Any, str, float, int]]
) -> None:
    """Take the superseded records `rows` (id, hour, dir, category, duration, bytes), no longer
    counted, out of the aggregates: each aggregate row once, with the sums it loses."""
    if not rows:
        return
    groups: list[dict[Any, list[Any]]] = [{}, {}, {}]  # by dir; by (hour, dir); by (hour, category)
    for _, hour, wd, cat, d, b in rows:
        for g, key in zip(groups, (wd, (hour, wd), (hour, cat)), strict=True):
            acc = g.setdefault(key, [0, 0.0, 0])
            acc[0], acc[1], acc[2] = acc[0] + 1, acc[1] + d, acc[2] + b
    by_dir, by_hour, by_cat = groups
    con.executemany(sqls[0], [{"wd": k, "n": n, "d": d, "b": b} for k, (n, d, b) in by_dir.items()])
    con.executemany(
        sqls[1], [{"hour": h, "wd": k, "n": n, "d": d, "b": b} for (h, k), (n, d, b) in by_hour.items()]
    )
    if len(sqls) > 2:
        con.executemany(sqls[2], [{"hour": h, "cat": c, "n": n} for (h, c), (n, _, _) in by_cat.items()])


class LatestOutcomes:
    """Made inside the write transaction before the batch is inserted (it reads the manifest the
    batch is about to replace); `settle` after, with the records as inserted (with their ids)."""

    def __init__(self, con: sqlite3.Connection, items: Sequence[tuple[Any, ManifestEntry | None]]) -> None:
        self._items = items
        paths = list({db_text(e.path) for _, e in items if e is not None})
        self._counted: dict[Any, str | None] = {p: rid for p, rid in _chunked(con, _KEPT, paths)}

    def settle(
        self, con: sqlite3.Connection, saved: list[SuccessRecord | ErrorRecord]
    ) -> list[SuccessRecord | ErrorRecord]:
        """Supersede, in batch order, the outcomes that a later outcome of their path replaces;
        return `saved` unchanged."""
        superseded: list[str] = []
        for (_, entry), rec in zip(self._items, saved, strict=True):
            # An outcome, as `SQLiteStore` counts them: a success, or an error settling its file.
            if entry is None or not (isinstance(rec, SuccessRecord) or settles_failed(entry)):
                continue
            path = db_text(entry.path)
            if (prev := self._counted.get(path)) is not None:
                superseded.append(prev)
            kept = entry.status in (ManifestStatus.DONE, ManifestStatus.FAILED)
            self._counted[path] = (
                (rec.record_id if isinstance(rec, SuccessRecord) else rec.error_id) if kept else None
            )
        if not superseded:
            return saved
        failures = [i for i in superseded if i.startswith("ERR-")]
        successes = [i for i in superseded if not i.startswith("ERR-")]
        rows = [(i, ts[:13], wd, c, 0.0, 0) for i, ts, wd, c in _chunked(con, _FAILURES, failures)]
        _clear(con, _CLEAR_FAILURE, rows)
        rows = [(i, ts[:13], wd, "", d, b) for i, ts, wd, d, b in _chunked(con, _SUCCESSES, successes)]
        _clear(con, _CLEAR_SUCCESS, rows)
        return saved
