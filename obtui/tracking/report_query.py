"""`report()` from the aggregate tables (see `schema.py`): all time from `dir_stats`, or from a
`since` time by whole UTC hours from `hour_dir` / `hour_cat` plus the records of the first,
partial hour. The cost depends on the number of directories and hours, not of records.

Only the outcomes that count are summed (each file's latest, see `latest.py`): over a window, a
file counts when its latest outcome falls in it, by that outcome.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from typing import Any

from obtui.api.snapshot import DirReport
from obtui.tracking.codec import utc_iso
from obtui.tracking.interfaces import Report
from obtui.tracking.schema import py_text

_ALL_DIRS = "SELECT watch_dir, successful, failed, duration_sum, bytes FROM dir_stats"
_ALL_CATS = "SELECT category, sum(total), sum(failed) FROM hour_cat GROUP BY category"
_HOUR_DIRS = (
    "SELECT watch_dir, sum(successful), sum(failed), total(duration_sum), sum(bytes) "
    "FROM hour_dir WHERE hour >= ? GROUP BY watch_dir"
)
_HOUR_CATS = "SELECT category, sum(total), sum(failed) FROM hour_cat WHERE hour >= ? GROUP BY category"
_RAW_DIRS = (
    "SELECT watch_dir, count(*), 0, total(duration_ms), sum(bytes) FROM successes "
    "WHERE ts >= ? AND ts < ? AND counted = 1 GROUP BY watch_dir"
)
_RAW_ERRORS = (
    "SELECT watch_dir, category, count(*), sum(failed_file) FROM errors "
    "WHERE ts >= ? AND ts < ? GROUP BY watch_dir, category"
)


def next_hour(hour: str) -> str:
    """The `YYYY-MM-DDTHH` key of the hour after `hour`."""
    return (datetime.strptime(hour, "%Y-%m-%dT%H") + timedelta(hours=1)).strftime("%Y-%m-%dT%H")


def _add(table: dict[Any, list[Any]], key: Any, *values: Any) -> None:
    row = table.setdefault(key, [0] * len(values))
    for i, v in enumerate(values):
        row[i] += v or 0


def read_report(con: sqlite3.Connection, since: str | None) -> Report:
    """The report over `con` (an autocommit connection), all time or from `since` (ISO 8601)."""
    con.execute("BEGIN")  # one snapshot for every query
    try:
        last = {
            r[0]: (r[1], r[2]) for r in con.execute("SELECT watch_dir, last_file, last_at FROM dir_stats")
        }
        if since is None:
            dir_rows = con.execute(_ALL_DIRS).fetchall()
            cat_rows = con.execute(_ALL_CATS).fetchall()
        else:
            s = utc_iso(since)
            whole = s[:13] if s[13:] == ":00:00.000Z" else next_hour(s[:13])
            dir_rows = con.execute(_HOUR_DIRS, (whole,)).fetchall()
            cat_rows = con.execute(_HOUR_CATS, (whole,)).fetchall()
            if s < whole:  # since falls inside an hour: count that hour's records one by one
                dir_rows += con.execute(_RAW_DIRS, (s, whole)).fetchall()
                for wd, cat, n, failed in con.execute(_RAW_ERRORS, (s, whole)):
                    cat_rows.append((cat, n, failed))
                    dir_rows.append((wd, 0, failed, 0.0, 0))
    finally:
        con.execute("COMMIT")
    per_dir: dict[Any, list[Any]] = {}
    cats: dict[str, list[Any]] = {}
    for wd, ok, failed, dur, nbytes in dir_rows:
        _add(per_dir, wd, ok, failed, dur, nbytes)
    for cat, n, failed in cat_rows:
        _add(cats, cat, n, failed)
    dirs = []
    for wd, (ok, failed, dur, nbytes) in sorted(per_dir.items(), key=lambda kv: py_text(kv[0])):
        if wd == "" or ok + failed == 0:  # records without a watch dir count only in the totals
            continue
        # The newest outcome of a dir with any outcome since `since` is itself since `since`.
        last_file, last_at = last.get(wd, (None, None))
        avg = dur / ok if ok else 0.0
        dirs.append(
            DirReport(py_text(wd), ok + failed, ok, failed, avg, nbytes, py_text(last_file), last_at or None)
        )
    by_cat = {c: v[0] for c, v in sorted(cats.items(), key=lambda kv: (-kv[1][0], kv[0])) if v[0]}
    return Report(
        since=since,
        directories=tuple(dirs),
        errors_by_category=by_cat,
        total_success=sum(v[0] for v in per_dir.values()),
        total_failed=sum(v[1] for v in cats.values()),
        total_errors=sum(by_cat.values()),
    )


def outcomes_by_rule(con: sqlite3.Connection) -> list[tuple[str, str, str, int]]:
    """(watch dir, rule, "success" | "failure", files) over the records kept: what Prometheus'
    `obtui_files_total` starts from, so that it agrees with `read_report`."""
    ok = con.execute("SELECT watch_dir, coalesce(rule, ''), count(*) FROM successes GROUP BY 1, 2")
    rows = [(d, r, "success", n) for d, r, n in ok]
    failed = con.execute(
        "SELECT watch_dir, coalesce(rule, ''), count(*) FROM errors WHERE failed_file = 1 GROUP BY 1, 2"
    )
    return rows + [(d, r, "failure", n) for d, r, n in failed]
