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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from obtui.tracking.codec import now_iso
from obtui.tracking.records import ManifestEntry
from obtui.tracking.schema import db_text, py_text
from obtui.tracking.sqlite_store import MANIFEST_COLS, SQLiteStore, manifest_row

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
    sql = f"SELECT {MANIFEST_COLS} FROM manifest WHERE {_FAILED} ORDER BY processed_at"
    return [manifest_row(r) for r in store.reading().execute(sql)]


def find_entry(store: SQLiteStore, target: str) -> ManifestEntry | None:
    """The manifest entry of a file named by its path, or by where a post-action moved it."""
    con = store.reading()
    for p in _paths(target):
        row = con.execute(
            f"SELECT {MANIFEST_COLS} FROM manifest WHERE path = ? OR moved_to = ? LIMIT 1",
            (db_text(p), db_text(p)),
        ).fetchone()
        if row:
            return manifest_row(row)
    return None


def request_retry(store: SQLiteStore, entries: list[ManifestEntry]) -> tuple[int, int]:
    """Ask the runner to process these files again; returns (newly requested, already waiting)."""
    new = 0
    with store.writing() as con:
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
    with store.writing() as con:
        con.execute(
            "INSERT OR IGNORE INTO requests(kind, path, requested_at) VALUES ('history', '', ?)", (now_iso(),)
        )


def pending_requests(store: SQLiteStore, limit: int = 500) -> list[Request]:
    """The oldest waiting requests (one indexed read; cheap on an empty table)."""
    rows = store.reading().execute(
        "SELECT id, kind, path, bucket, moved_to FROM requests ORDER BY id LIMIT ?", (limit,)
    )
    return [Request(i, k, py_text(p), py_text(b), py_text(m)) for i, k, p, b, m in rows]


def drop_requests(store: SQLiteStore, ids: list[int]) -> None:
    """Remove requests that were carried out (or can never be)."""
    if ids:
        with store.writing() as con:
            con.executemany("DELETE FROM requests WHERE id = ?", [(i,) for i in ids])


def reset_failed(store: SQLiteStore, path: str) -> bool:
    """Forget the content of `path` if its latest outcome is still a failure, so the idempotency
    gate lets it through once more. False when it succeeded meanwhile (or is not on record):
    nothing to retry. The entry stays `failed` at its path, pointing at the failure (also when
    `on_failure` had moved the file: a retry brings it back), so the retry's outcome supersedes
    that failure (see `tracking/latest.py`) instead of counting beside it."""
    with store.writing() as con:
        cur = con.execute(
            "UPDATE manifest SET status = 'failed', sha256 = '', size = -1, mtime_ns = -1, inode = -1, "
            f"moved_to = NULL WHERE path = ? AND {_FAILED}",
            (db_text(path),),
        )
        return cur.rowcount > 0


def forget(store: SQLiteStore, target: str) -> int:
    """Remove from the manifest the file `target` (by its path or where it was moved), or every
    file under it when it is a folder (a bucket, or a folder in one). Returns how many."""
    with store.writing() as con:
        n = 0
        for p in _paths(target):
            prefix = p.rstrip("/") + "/"
            n += con.execute(
                "DELETE FROM manifest WHERE path = ? OR moved_to = ? OR bucket = ? OR substr(path, 1, ?) = ?",
                (db_text(p), db_text(p), db_text(p), len(prefix), prefix),
            ).rowcount
        return n


@dataclass
class RetryPlan:
    """What `--retry` resolved its arguments to."""

    entries: dict[str, ManifestEntry] = field(default_factory=dict)  # by path, in order
    not_failed: list[str] = field(default_factory=list)  # named, but the latest outcome is a success
    unknown: list[str] = field(default_factory=list)  # named nothing on record (with the reason)
    gone: list[ManifestEntry] = field(default_factory=list)  # failed, but the file is nowhere now


def plan_retry(store: SQLiteStore, whats: list[str]) -> RetryPlan:
    """Resolve `failed`, error ids and paths to the manifest entries to retry."""
    plan = RetryPlan()
    for what in whats:
        if what == "failed":
            for e in failed_entries(store):
                _add(plan, e)
            continue
        if what.upper().startswith("ERR-"):
            rec = store.error(what.upper())
            if rec is None:
                plan.unknown.append(f"{what}: no error record with that id (see obtui --errors)")
                continue
            if not rec.file_path:
                plan.unknown.append(f"{what}: that error is not about a file ({rec.message})")
                continue
            path = rec.file_path
        else:
            path = what
        entry = find_entry(store, path)
        if entry is None:
            plan.unknown.append(f"{what}: not on record (no file by that path was processed)")
        elif not entry.record_id.startswith("ERR-"):
            plan.not_failed.append(entry.path)
        else:
            _add(plan, entry)
    return plan


def _add(plan: RetryPlan, e: ManifestEntry) -> None:
    """Plan `e`, unless its file is neither where it was nor where it was moved (deleted by hand
    or by `on_failure = "delete"`): that is said, not requested."""
    if e.path in plan.entries or any(g.path == e.path for g in plan.gone):
        return
    if os.path.lexists(e.path) or (e.moved_to and os.path.lexists(e.moved_to)):
        plan.entries[e.path] = e
    else:
        plan.gone.append(e)


@dataclass(frozen=True)
class RetryOutcome:
    """What a retry request did: the plan, and how many requests are new or were waiting."""

    plan: RetryPlan
    new: int
    already: int

    def summary(self) -> str:
        """One line for people."""
        n = len(self.plan.entries)
        if n:
            waiting = f" ({self.already} already waiting)" if self.already else ""
            return f"Retry requested for {n} file(s){waiting}."
        if self.plan.gone:
            return f"Nothing to retry: {len(self.plan.gone)} failed file(s) are no longer there."
        if self.plan.not_failed and not self.plan.unknown:
            return "Nothing to retry: the latest outcome of each of these files is a success."
        if self.plan.unknown:
            return "Nothing to retry: " + "; ".join(self.plan.unknown)
        return "Nothing to retry: no file's latest outcome is a failure."


class RetryRequester:
    """Writes retry requests into the store of `state_dir` (for the dashboard, which otherwise
    reads the store read-only). Blocking: call it from a thread."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)

    def retry(self, whats: list[str]) -> RetryOutcome:
        """Resolve `whats` (see `plan_retry`) and request a retry of each failed file."""
        store = SQLiteStore(self.state_dir)
        try:
            plan = plan_retry(store, whats)
            new, already = request_retry(store, list(plan.entries.values()))
        finally:
            store.close()
        return RetryOutcome(plan, new, already)
