"""Durable requests from clients (`obtui --retry`, the dashboard's retry keys, `--prune`) to the
runner, and the manifest edits behind `--retry` and `--forget`.

A request is a row in the store's `requests` table. The runner takes them with one query on that
(nearly always empty) table every half second, and at every start. Why a table rather than a
signal, a socket or a request file: a request must outlive a runner that is not there (the next
start, or `--once`, takes it), it must be written by any client that can open the store (the CLI
and the dashboard already do), and a retry asked for twice must stay one request (UNIQUE(kind,
path)). Polling an empty table costs microseconds; no new file, watcher or socket is needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from obtui.tracking.codec import now_iso
from obtui.tracking.records import ManifestEntry
from obtui.tracking.schema import db_text, py_text
from obtui.tracking.sqlite_store import _MANIFEST_COLS, SQLiteStore, _entry

RequestKind = Literal["retry", "history"]
_FAILED = "record_id LIKE 'ERR-%'"  # the entry was settled by an error record: its latest outcome


@dataclass(frozen=True)
class Request:
    """One request. `retry`: process `path` again (bring it back from `moved_to` first);
    `history`: the records changed under the runner (a prune), re-read its report figures."""

    id: int
    kind: RequestKind
    path: str = ""
    bucket: str = ""
    moved_to: str | None = None


def _paths(target: str) -> list[str]:
    """The spellings under which the manifest may hold `target` (as given, absolute, resolved)."""
    out = [target]
    for p in (os.path.abspath(os.path.expanduser(target)), str(Path(target).expanduser().resolve())):
        if p not in out:
            out.append(p)
    return out


def failed_entries(store: SQLiteStore) -> list[ManifestEntry]:
    """Every manifest entry whose latest outcome is a failure, oldest first."""
    sql = f"SELECT {_MANIFEST_COLS} FROM manifest WHERE {_FAILED} ORDER BY processed_at"
    return [_entry(r) for r in store._reader().execute(sql)]


def find_entry(store: SQLiteStore, target: str) -> ManifestEntry | None:
    """The manifest entry of a file named by its path, or by where a post-action moved it."""
    con = store._reader()
    for p in _paths(target):
        row = con.execute(
            f"SELECT {_MANIFEST_COLS} FROM manifest WHERE path = ? OR moved_to = ? LIMIT 1",
            (db_text(p), db_text(p)),
        ).fetchone()
        if row:
            return _entry(row)
    return None


def request_retry(store: SQLiteStore, entries: list[ManifestEntry]) -> tuple[int, int]:
    """Ask the runner to process these files again; returns (newly requested, already waiting)."""
    new = 0
    with store._transaction() as con:
        for e in entries:
            cur = con.execute(
                "INSERT OR IGNORE INTO requests(kind, path, bucket, moved_to, requested_at) "
                "VALUES ('retry', ?, ?, ?, ?)",
                (db_text(e.path), db_text(e.bucket), db_text(e.moved_to), now_iso()),
            )
            new += cur.rowcount
    return new, len(entries) - new


def request_history_reload(store: SQLiteStore) -> None:
    """Tell a live runner that records were removed under it (a prune)."""
    with store._transaction() as con:
        con.execute(
            "INSERT OR IGNORE INTO requests(kind, path, requested_at) VALUES ('history', '', ?)", (now_iso(),)
        )


def pending_requests(store: SQLiteStore, limit: int = 500) -> list[Request]:
    """The oldest waiting requests (one indexed read; cheap on an empty table)."""
    rows = store._reader().execute(
        "SELECT id, kind, path, bucket, moved_to FROM requests ORDER BY id LIMIT ?", (limit,)
    )
    return [Request(i, k, py_text(p), py_text(b), py_text(m)) for i, k, p, b, m in rows]


def drop_requests(store: SQLiteStore, ids: list[int]) -> None:
    """Remove requests that were carried out (or can never be)."""
    if ids:
        with store._transaction() as con:
            con.executemany("DELETE FROM requests WHERE id = ?", [(i,) for i in ids])


def reset_failed(store: SQLiteStore, path: str) -> bool:
    """Forget `path` if its latest outcome is still a failure, so the idempotency gate lets it
    through once more. False when it succeeded meanwhile (or is not on record): nothing to retry."""
    with store._transaction() as con:
        cur = con.execute(f"DELETE FROM manifest WHERE path = ? AND {_FAILED}", (db_text(path),))
        return cur.rowcount > 0


def forget(store: SQLiteStore, target: str) -> int:
    """Remove from the manifest the file `target` (by its path or where it was moved), or every
    file under it when it is a folder (a bucket, or a folder in one). Returns how many."""
    with store._transaction() as con:
        n = 0
        for p in _paths(target):
            prefix = p.rstrip("/") + "/"
            n += con.execute(
                "DELETE FROM manifest WHERE path = ? OR moved_to = ? OR bucket = ? OR substr(path, 1, ?) = ?",
                (db_text(p), db_text(p), db_text(p), len(prefix), prefix),
            ).rowcount
        return n
