"""Watching and scanning the buckets: one watcher per bucket, buckets that vanish and come back,
and reconciliation scans (at start, periodically, on overflow, on demand, after a backlog).

Part of `Engine` (a mixin, to keep each module to one job); runs on the engine loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING

from obtui.api.snapshot import ScanProgress
from obtui.config.model import BucketConfig
from obtui.engine.pipeline.scanner import Candidate, scan_bucket
from obtui.engine.pipeline.watcher import BucketWatcher

if TYPE_CHECKING:
    from obtui.engine.engine import Engine

log = logging.getLogger("obtui.engine")


class Buckets:
    """Owned by the Engine; works on its state."""

    def __init__(self, engine: Engine) -> None:
        self.e = engine

    # ---- buckets -------------------------------------------------------------------------------

    def _is_polling(self, bucket: str) -> bool:
        w = self.e.watchers.get(bucket)
        return self.e.once or (w is not None and w.polling)

    def _bucket_cfg(self, bucket: str) -> BucketConfig | None:
        return next((b for b in self.e.config.buckets if str(b.path) == bucket), None)

    def _start_bucket(self, b: BucketConfig, reason: str) -> None:
        path = str(b.path)
        if not os.path.isdir(path):
            self._bucket_gone(path)
            return
        poll = b.poll_seconds if b.poll_seconds is not None else self.e.config.runner.poll_seconds
        assert self.e._loop is not None
        w = BucketWatcher(
            path, recursive=b.recursive, poll_seconds=poll, loop=self.e._loop, sink=self.e.intake.on_events
        )
        try:
            w.start()
        except OSError as exc:
            self._bucket_gone(path, f"cannot watch {path}: {exc}")
            return
        self.e.watchers[path] = w
        self.e.missing.pop(path, None)
        self.request_scan(path, reason)

    def _stop_bucket(self, bucket: str) -> None:
        w = self.e.watchers.pop(bucket, None)
        if w:
            w.stop()
        self.e.intake.forget_bucket(bucket)
        task = self.e._scan_tasks.pop(bucket, None)
        if task:
            task.cancel()

    def _bucket_gone(self, bucket: str, message: str | None = None) -> None:
        if bucket in self.e.missing:
            return
        self._stop_bucket(bucket)
        if self._bucket_cfg(bucket) is None:
            return
        msg = message or f"bucket {bucket} is missing (deleted?); watching for it to come back"
        self.e.missing[bucket] = msg
        log.warning("%s", msg)
        from obtui.engine.errors import ProcessingError
        from obtui.engine.records import error_record
        from obtui.tracking.records import Category

        class BucketMissingError(ProcessingError):
            category = Category.FILE_ACCESS
            component = "Watcher"
            operation = "watchDirectory"
            suggestion = "Create the folder again; obtui resumes watching it by itself."

        rec = error_record(BucketMissingError(msg, code="ENOENT"), path=None, bucket=bucket, rule=None)
        self.e._spawn(self.e._record_error(rec))
        self.e._spawn(self._wait_for_bucket(bucket))

    async def _wait_for_bucket(self, bucket: str) -> None:
        while bucket in self.e.missing and not self.e._stop.is_set():
            await asyncio.sleep(1.0)
            cfg = self._bucket_cfg(bucket)
            if cfg is None:
                self.e.missing.pop(bucket, None)
                return
            if os.path.isdir(bucket):
                self.e.missing.pop(bucket, None)
                log.info("bucket %s is back; watching again", bucket)
                self._start_bucket(cfg, "bucket-added")
                return

    # ---- scans ---------------------------------------------------------------------------------

    def request_scan_all(self, reason: str) -> None:
        for b in self.e.config.buckets:
            if str(b.path) not in self.e.missing:
                self.request_scan(str(b.path), reason)

    def request_scan(self, bucket: str, reason: str) -> None:
        """Scan `bucket` now, or once more right after the scan already running."""
        if bucket in self.e._scan_tasks:
            self.e._rescan_requested.add(bucket)
            return
        self.e.metrics.rescans += 1
        self.e._scan_tasks[bucket] = asyncio.create_task(self._scan(bucket, reason))

    async def _scan(self, bucket: str, reason: str) -> None:
        assert self.e._loop is not None
        loop = self.e._loop
        cfg = self._bucket_cfg(bucket)
        recursive = cfg.recursive if cfg else True
        self.e.scans[bucket] = ScanProgress(bucket, reason=reason)

        def emit(batch: list[Candidate]) -> None:
            asyncio.run_coroutine_threadsafe(self._accept(bucket, batch), loop).result()

        def progress(scanned: int, queued: int) -> None:
            loop.call_soon_threadsafe(self._progress, bucket, scanned, queued, reason)

        try:
            await asyncio.to_thread(
                scan_bucket,
                bucket,
                recursive=recursive,
                matcher=self.e.matcher,
                store=self.e.store,
                emit=emit,
                progress=progress,
                cancelled=self.e._cancel_scans,
                recent_seconds=self.e.config.runner.debounce_ms / 1000,
            )
        except FileNotFoundError:
            self._bucket_gone(bucket)
        except Exception:
            log.exception("scan of %s failed", bucket)
        finally:
            self.e._scan_tasks.pop(bucket, None)
            self.e.scans.pop(bucket, None)
            if bucket in self.e._rescan_requested and not self.e._stop.is_set():
                self.e._rescan_requested.discard(bucket)
                self.request_scan(bucket, "again")

    def _progress(self, bucket: str, scanned: int, queued: int, reason: str) -> None:
        if bucket in self.e.scans:
            self.e.scans[bucket] = ScanProgress(bucket, scanned, queued, True, reason)

    async def _accept(self, bucket: str, batch: list[Candidate]) -> None:
        from obtui.engine.pipeline.dispatcher import Job

        d = self.e.dispatcher
        for c in batch:
            if c.path in self.e.intake.settler or c.path in d.inflight or c.path in d.queue:
                continue
            if c.path in self.e.processor.retrying:
                continue
            if c.recent and not c.is_dir:
                self.e.intake.settle(bucket, c.path, "created")
                continue
            await d.submit_wait(Job(c.path, bucket, c.rel, "scan", is_dir=c.is_dir))

    async def _periodic_rescan(self) -> None:
        while True:
            await asyncio.sleep(max(self.e.config.runner.rescan_seconds, 1.0))
            self.request_scan_all("periodic")

    def _on_overflow(self, message: str) -> None:
        self.e.metrics.overflows += 1
        log.warning("watcher overflow (%s): rescanning every bucket", message)
        self.request_scan_all("overflow")
