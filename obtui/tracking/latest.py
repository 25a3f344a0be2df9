"""Files count by their latest outcome (`obtui.api.snapshot.Figures`): inside one write
transaction, which failure each path still counts as a failed file, and the corrections to the
aggregates when a later outcome of that path supersedes it.

A failure counts while the path's manifest entry says `failed` and points at it. A new outcome for
the path clears that record's `failed_file` and takes it out of `dir_stats`, `hour_dir` and
`hour_cat` in the hour it was counted in, so `report(since)`, `rebuild_aggregates()` and `prune`
keep agreeing. A path that was `consumed` (moved or deleted) starts a new file.
"""

from __future__ import annotations

import sqlite3
from typing import Any

_CHUNK = 500  # parameters per IN (...) query

_COUNTED_FAILURES = (
    "SELECT m.path, e.error_id, e.ts, e.watch_dir, e.category FROM manifest m JOIN errors e "
    "ON e.error_id = m.record_id WHERE m.status = 'failed' AND e.failed_file = 1 AND m.path IN ({})"
)

Failure = tuple[str, str, Any, str]  # error id, ts, watch dir (as stored), category


def counted_failures(con: sqlite3.Connection, paths: list[Any]) -> dict[Any, Failure]:
    """path -> the failure each of `paths` still counts as a failed file; paths counting none
    are left out. One query per 500 paths."""
    found: dict[Any, Failure] = {}
    for i in range(0, len(paths), _CHUNK):
        chunk = paths[i : i + _CHUNK]
        sql = _COUNTED_FAILURES.format(",".join("?" * len(chunk)))
        for path, eid, ts, wd, cat in con.execute(sql, chunk):
            found[path] = (eid, ts, wd, cat)
    return found


class LatestOutcomes:
    """The failures a batch of records supersedes, for `SQLiteStore` inside its transaction."""

    def __init__(self, con: sqlite3.Connection, paths: list[Any]) -> None:
        self._counted: dict[Any, Failure | None] = dict(counted_failures(con, list(set(paths))))
        self.superseded: list[str] = []

    def outcome(
        self,
        path: Any,
        failure: Failure | None,
        dirs: dict[Any, list[Any]],
        hours: dict[tuple[str, Any], list[Any]],
        cats: dict[tuple[str, str], list[int]],
    ) -> None:
        """`path` has a new outcome, a failure (`failure`) or a success (None): the failure it
        counted as until now, if any, leaves the aggregate deltas `dirs`, `hours` and `cats`."""
        prev = self._counted.get(path)
        self._counted[path] = failure
        if prev is None:
            return
        eid, pts, pwd, pcat = prev
        self.superseded.append(eid)
        dirs.setdefault(pwd, [0, 0, 0.0, 0, None, ""])[1] -= 1
        hours.setdefault((pts[:13], pwd), [0, 0, 0.0, 0])[1] -= 1
        cats.setdefault((pts[:13], pcat), [0, 0])[1] -= 1

    def apply(self, con: sqlite3.Connection) -> None:
        """Clear `failed_file` on the superseded records (after they were inserted)."""
        con.executemany(
            "UPDATE errors SET failed_file = 0 WHERE error_id = ?", [(e,) for e in self.superseded]
        )
