"""The outcomes the snapshot shows: per-directory totals, the recent errors and this run's failure
count, kept up to date from the processor's hooks, and the subscribers told of every outcome.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from obtui.api.snapshot import DirReport, ErrorSummary
from obtui.tracking.interfaces import RecordStore
from obtui.tracking.latest import superseded
from obtui.tracking.records import ErrorRecord, ManifestEntry, SuccessRecord

log = logging.getLogger("obtui.engine")


class RunHistory:
    """Owns `dirs`, `recent_errors` and `failed_this_run`; runs on the engine loop."""

    def __init__(self, on_record: Callable[[], None] = lambda: None) -> None:
        self._on_record = on_record  # counts every error record of the run (see `Figures`)
        self.dirs: dict[str, DirReport] = {}
        self.recent_errors: deque[ErrorSummary] = deque(maxlen=50)
        self.failed_this_run = 0
        self._subscribers: list[Callable[[dict[str, Any]], None]] = []

    def subscribe(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """`callback(event)` is called on the engine loop for every outcome (keep it quick)."""
        self._subscribers.append(callback)

    async def load(self, store: RecordStore) -> None:
        """Start from what is on record: directory totals and the latest errors."""
        report = await asyncio.to_thread(store.report, None)
        self.dirs = {d.directory: d for d in report.directories}
        errors = await asyncio.to_thread(store.errors, None, 50)
        for e in reversed(errors):
            self.recent_errors.appendleft(_summary(e))

    async def reload(self, store: RecordStore) -> None:
        """Start again from the record (records were pruned under the running engine)."""
        self.recent_errors.clear()
        await self.load(store)

    def on_success(self, rec: SuccessRecord, prior: ManifestEntry | None = None) -> None:
        """`prior`: the file's manifest entry before this outcome (the outcome it supersedes)."""
        # The directory counts files by their latest outcome, as the store does (see `Figures`):
        # the file's earlier outcome leaves the figures, with its duration and bytes.
        d = _without(self.dirs.get(rec.watch_dir) or DirReport(rec.watch_dir), prior)
        # Averaged over the latest successes, as the store's report does.
        avg = (d.avg_duration_ms * d.successful + rec.duration_ms) / (d.successful + 1)
        self.dirs[rec.watch_dir] = DirReport(
            rec.watch_dir,
            d.total + 1,
            d.successful + 1,
            d.failed,
            avg,
            d.bytes + rec.bytes_processed,
            rec.file_path,
            rec.timestamp,
        )
        log.info(
            "processed %s -> %s (rule %s, %.1f ms)", rec.file_path, rec.output_path, rec.rule, rec.duration_ms
        )
        if self._subscribers:  # building the event costs as much as the rest of this hook
            self._emit({"event": "success", **rec.to_json()})

    def on_error(self, rec: ErrorRecord, failed: bool, prior: ManifestEntry | None = None) -> None:
        """`failed`: the record settles a file as failed (not only an error along the way);
        `prior`: that file's manifest entry before it (the outcome it supersedes)."""
        self.recent_errors.appendleft(_summary(rec))
        self._on_record()
        if failed:
            self.failed_this_run += 1
            if rec.watch_dir:
                d = _without(self.dirs.get(rec.watch_dir) or DirReport(rec.watch_dir), prior)
                self.dirs[rec.watch_dir] = DirReport(
                    d.directory,
                    d.total + 1,
                    d.successful,
                    d.failed + 1,
                    d.avg_duration_ms,
                    d.bytes,
                    rec.file_path,
                    rec.timestamp,
                )
        log.info(
            "%s %s [%s] %s: %s",
            rec.error_id,
            "failed" if failed else "error",
            rec.category,
            rec.file_path,
            rec.message,
        )
        if self._subscribers:
            self._emit({"event": "error", "failedFile": failed, **rec.to_json()})

    def count_unfinished(self, n: int) -> None:
        """`n` files a `once` run leaves unfinished (behind an open breaker): they count as failed."""
        self.failed_this_run += n

    def on_breaker_open(self, rule: str) -> None:
        log.warning("circuit breaker opened for rule %r: its files wait", rule)
        self._emit({"event": "breaker_open", "rule": rule})

    def _emit(self, event: dict[str, Any]) -> None:
        for cb in self._subscribers:
            try:
                cb(event)
            except Exception:
                log.exception("subscriber failed")


def _without(d: DirReport, prior: ManifestEntry | None) -> DirReport:
    """`d` without the outcome a new outcome of the file supersedes (see `tracking/latest.py`)."""
    gone = superseded(prior)
    if prior is None or gone is None:
        return d
    if gone == "failure":
        return (
            dataclasses.replace(d, total=max(0, d.total - 1), failed=max(0, d.failed - 1)) if d.failed else d
        )
    if not d.successful:
        return d
    ok = d.successful - 1
    rest = d.avg_duration_ms * d.successful - prior.recorded_duration_ms
    avg = max(0.0, rest / ok) if ok else 0.0
    nbytes = max(0, d.bytes - prior.recorded_bytes)
    return dataclasses.replace(d, total=max(0, d.total - 1), successful=ok, avg_duration_ms=avg, bytes=nbytes)


def _summary(e: ErrorRecord) -> ErrorSummary:
    return ErrorSummary(
        e.error_id, e.timestamp, str(e.severity), str(e.category), e.message, e.file_path, e.rule
    )
