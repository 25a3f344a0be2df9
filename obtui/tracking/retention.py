"""Retention: remove old success and error records (`obtui --prune AGE`, `[store] keep`), and the
facts `--status` shows about the store (its size, its oldest record).

The manifest is never pruned: it is what keeps a done file from being processed again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from obtui.tracking import schema
from obtui.tracking.codec import utc_iso
from obtui.tracking.report_query import next_hour
from obtui.tracking.sqlite_store import SQLiteStore


@dataclass(frozen=True)
class PruneResult:
    """What one prune removed, and the cut-off it used (records older than it are gone)."""

    before: str
    successes: int
    errors: int

    @property
    def removed(self) -> int:
        return self.successes + self.errors


@dataclass(frozen=True)
class StoreFacts:
    """The store's size on disk (database + WAL) and its oldest success or error record."""

    path: str
    size_bytes: int
    oldest: str | None
    records: int


def cutoff(age_seconds: float, now: datetime | None = None) -> str:
    """The ISO 8601 UTC time `age_seconds` ago."""
    now = now or datetime.now(UTC)
    return utc_iso((now - timedelta(seconds=age_seconds)).isoformat())


def prune(store: SQLiteStore, before: str) -> PruneResult:
    """Remove every success and error record older than `before` (ISO 8601) in one transaction,
    keeping the report aggregates equal to the records left (see `schema.PRUNE`)."""
    before = utc_iso(before)
    hour = before[:13]
    params = {
        "cut": before,
        "hour": hour,
        "start": f"{hour}:00:00.000Z",
        "end": f"{next_hour(hour)}:00:00.000Z",
    }
    with store.writing() as con:
        n_s = con.execute("SELECT count(*) FROM successes WHERE ts < ?", (before,)).fetchone()[0]
        n_e = con.execute("SELECT count(*) FROM errors WHERE ts < ?", (before,)).fetchone()[0]
        if n_s or n_e:
            for stmt in schema.PRUNE:
                con.execute(stmt, {k: v for k, v in params.items() if f":{k}" in stmt})
    return PruneResult(before, n_s, n_e)


def store_facts(store: SQLiteStore) -> StoreFacts:
    """Size and oldest record (both min(ts) reads use the ts indexes)."""
    size = 0
    for suffix in ("", "-wal"):
        try:
            size += os.stat(f"{store.path}{suffix}").st_size
        except OSError:
            pass
    con = store.reading()
    oldest = [
        con.execute("SELECT min(ts) FROM successes").fetchone()[0],
        con.execute("SELECT min(ts) FROM errors").fetchone()[0],
    ]
    records = sum(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("successes", "errors"))
    present = [o for o in oldest if o]
    return StoreFacts(str(store.path), size, min(present) if present else None, records)
