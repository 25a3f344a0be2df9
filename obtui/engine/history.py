"""The outcomes the snapshot shows: per-directory totals, the recent errors and this run's failure
count, kept up to date from the processor's hooks, and the subscribers told of every outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from obtui.api.snapshot import DirReport, ErrorSummary
from obtui.tracking.interfaces import RecordStore
from obtui.tracking.records import ErrorRecord, SuccessRecord

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

    def on_success(self, rec: SuccessRecord, supersedes: bool = False) -> None:
        """`supersedes`: the file's latest outcome was a failure, which this success replaces."""
        # The directory counts files by their latest outcome, as the store does (see `Figures`):
        # a file that had failed moves from failed to successful.
        d = self.dirs.get(rec.watch_dir) or DirReport(rec.watch_dir)
        was_failed = 1 if supersedes and d.failed else 0
        total = d.total + 1 - was_failed
        # Averaged over successful files, as the store's report does.
        avg = (d.avg_duration_ms * d.successful + rec.duration_ms) / (d.successful + 1)
        self.dirs[rec.watch_dir] = DirReport(
            rec.watch_dir,
            total,
            d.successful + 1,
            d.failed - was_failed,
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

    def on_error(self, rec: ErrorRecord, failed: bool, supersedes: bool = False) -> None:
        """`failed`: the record settles a file as failed (not only an error along the way);
        `supersedes`: that file's latest outcome was already a failure (it stays one failed file)."""
        self.recent_errors.appendleft(_summary(rec))
        self._on_record()
        if failed:
            self.failed_this_run += 1
            if rec.watch_dir:
                d = self.dirs.get(rec.watch_dir) or DirReport(rec.watch_dir)
                new = 0 if supersedes and d.failed else 1
                self.dirs[rec.watch_dir] = DirReport(
                    d.directory,
                    d.total + new,
                    d.successful,
                    d.failed + new,
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


def _summary(e: ErrorRecord) -> ErrorSummary:
    return ErrorSummary(
        e.error_id, e.timestamp, str(e.severity), str(e.category), e.message, e.file_path, e.rule
    )
