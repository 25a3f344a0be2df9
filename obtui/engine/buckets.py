"""Watching and scanning the buckets: one watcher per bucket, buckets that vanish and come back,
and reconciliation scans (at start, periodically, on overflow, on demand, after a backlog).

`Buckets` owns its watchers, missing buckets and scans; it reaches the rest of the engine only
through `BucketHooks`. Runs on the engine loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obtui.api.snapshot import BucketState, BucketStateName, ScanProgress
from obtui.config.model import BucketConfig, Config
from obtui.engine.bucket_locks import BucketLockedError, BucketLocks
from obtui.engine.errors import BucketMissingError
from obtui.engine.jobs import ScanReason
from obtui.engine.pipeline.metrics import MetricsCollector
from obtui.engine.pipeline.patterns import Matcher
from obtui.engine.pipeline.scanner import Candidate, scan_bucket
from obtui.engine.pipeline.watcher import BucketWatcher, RawEvent
from obtui.engine.records import error_record
from obtui.engine.seams import OutcomeLedger
from obtui.tracking.records import ErrorRecord

log = logging.getLogger("obtui.engine")

_LOCKED_SUGGESTION = "Stop the other runner; this one then takes the bucket over by itself."


@dataclass
class BucketHooks:
    """How the buckets reach the rest of the engine (all called on the engine loop)."""

    on_events: Callable[[list[RawEvent]], None]  # the watchers' sink
    forget: Callable[[str], None]  # drop whatever is settling below a bucket that stopped
    accept: Callable[[str, list[Candidate]], Coroutine[Any, Any, None]]  # scan candidates
    record_error: Callable[[ErrorRecord], Coroutine[Any, Any, None]]  # a bucket failure


class Buckets:
    """The watched buckets and their scans."""

    def __init__(
        self,
        *,
        config: Callable[[], Config],
        matcher: Callable[[], Matcher],
        ledger: OutcomeLedger,
        metrics: MetricsCollector,
        once: bool,
        hooks: BucketHooks,
        locks: BucketLocks | None = None,
    ) -> None:
        self._config = config
        self._locks = locks or BucketLocks(Path("."), enabled=False)
        self._matcher = matcher
        self._ledger = ledger
        self._metrics = metrics
        self._once = once
        self._hooks = hooks
        self.watchers: dict[str, BucketWatcher] = {}
        self.missing: dict[str, str] = {}  # bucket -> message
        self._scans: dict[str, ScanProgress] = {}
        self._scan_tasks: dict[str, asyncio.Task[None]] = {}
        self._rescan_requested: set[str] = set()
        self._cancel_scans = threading.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    # ---- what the snapshot shows -------------------------------------------------------------

    @property
    def scanning(self) -> Mapping[str, asyncio.Task[None]]:
        """The scans running now, by bucket."""
        return self._scan_tasks

    def scan_progress(self) -> tuple[ScanProgress, ...]:
        return tuple(self._scans.values())

    def states(self) -> tuple[BucketState, ...]:
        """Every configured bucket: watching, polling, missing or stopped."""
        out = []
        for b in self._config().buckets:
            path = str(b.path)
            w = self.watchers.get(path)
            if path in self.missing:
                out.append(BucketState(path, "missing", b.recursive, False, self.missing[path]))
            elif w is not None:
                state: BucketStateName = "polling" if w.polling else "watching"
                out.append(BucketState(path, state, b.recursive, w.polling, w.message))
            else:
                once = self._once
                out.append(BucketState(path, "polling" if once else "stopped", b.recursive, once))
        return tuple(out)

    def bucket_of(self, path: str) -> str:
        """The watched bucket `path` lies in ('' when none)."""
        return next((b for b in self.watchers if path.startswith(b + os.sep)), "")

    def is_polling(self, bucket: str) -> bool:
        w = self.watchers.get(bucket)
        return self._once or (w is not None and w.polling)

    # ---- buckets -------------------------------------------------------------------------------

    def watch_all(self) -> None:
        """Start a watcher (and a first scan) per configured bucket, and the periodic rescans."""
        for b in self._config().buckets:
            self.start_bucket(b, "start")
        self._spawn(self._periodic_rescan())

    def _bucket_cfg(self, bucket: str) -> BucketConfig | None:
        return next((b for b in self._config().buckets if str(b.path) == bucket), None)

    def start_bucket(self, b: BucketConfig, reason: ScanReason) -> None:
        path = str(b.path)
        if not os.path.isdir(path):
            self.bucket_gone(path)
            return
        try:
            self._locks.take(path)  # a bucket added by a reload, or back after a deletion
        except BucketLockedError as exc:  # waited for (quietly) like a missing bucket
            self.bucket_gone(path, str(exc), code="EBUSY", suggestion=_LOCKED_SUGGESTION)
            return
        poll = b.poll_seconds if b.poll_seconds is not None else self._config().runner.poll_seconds
        w = BucketWatcher(
            path,
            recursive=b.recursive,
            poll_seconds=poll,
            loop=asyncio.get_running_loop(),
            sink=self._hooks.on_events,
        )
        try:
            w.start()
        except OSError as exc:
            self.bucket_gone(path, f"cannot watch {path}: {exc}")
            return
        self.watchers[path] = w
        self.missing.pop(path, None)
        self.request_scan(path, reason)

    def _stop_bucket(self, bucket: str) -> None:
        self._locks.release(bucket)
        w = self.watchers.pop(bucket, None)
        if w:
            w.stop()
        self._hooks.forget(bucket)
        task = self._scan_tasks.pop(bucket, None)
        if task:
            task.cancel()

    def drop(self, bucket: str) -> None:
        """A bucket removed from the config: stop watching it and forget it."""
        self._stop_bucket(bucket)
        self.missing.pop(bucket, None)

    def bucket_gone(
        self, bucket: str, message: str | None = None, *, code: str = "ENOENT", suggestion: str | None = None
    ) -> None:
        """The bucket folder vanished (or cannot be watched, or another runner holds it): put it
        on record, wait for it."""
        if bucket in self.missing:
            return
        self._stop_bucket(bucket)
        if self._bucket_cfg(bucket) is None:
            return
        msg = message or f"bucket {bucket} is missing (deleted?); watching for it to come back"
        self.missing[bucket] = msg
        log.warning("%s", msg)
        exc = BucketMissingError(msg, code=code, suggestion=suggestion)
        rec = error_record(exc, path=None, bucket=bucket, rule=None)
        self._spawn(self._hooks.record_error(rec))
        self._spawn(self._wait_for_bucket(bucket))

    async def _wait_for_bucket(self, bucket: str) -> None:
        while bucket in self.missing and not self._closed:
            await asyncio.sleep(1.0)
            cfg = self._bucket_cfg(bucket)
            if cfg is None:
                self.missing.pop(bucket, None)
                return
            if os.path.isdir(bucket):
                try:
                    self._locks.take(bucket)
                except BucketLockedError:
                    continue  # another runner still has it
                self.missing.pop(bucket, None)
                log.info("bucket %s is back; watching again", bucket)
                self.start_bucket(cfg, "bucket-added")
                return

    # ---- scans ---------------------------------------------------------------------------------

    def request_scan_all(self, reason: ScanReason) -> None:
        for b in self._config().buckets:
            if str(b.path) not in self.missing:
                self.request_scan(str(b.path), reason)

    def request_scan(self, bucket: str, reason: ScanReason) -> None:
        """Scan `bucket` now, or once more right after the scan already running."""
        if bucket in self._scan_tasks:
            self._rescan_requested.add(bucket)
            return
        self._metrics.rescans += 1
        self._scan_tasks[bucket] = asyncio.create_task(self._scan(bucket, reason))

    async def _scan(self, bucket: str, reason: ScanReason) -> None:
        loop = asyncio.get_running_loop()
        cfg = self._bucket_cfg(bucket)
        recursive = cfg.recursive if cfg else True
        self._scans[bucket] = ScanProgress(bucket, reason=reason)

        def emit(batch: list[Candidate]) -> None:
            asyncio.run_coroutine_threadsafe(self._hooks.accept(bucket, batch), loop).result()

        def progress(scanned: int, queued: int) -> None:
            loop.call_soon_threadsafe(self._progress, bucket, scanned, queued, reason)

        try:
            await asyncio.to_thread(
                scan_bucket,
                bucket,
                recursive=recursive,
                matcher=self._matcher(),
                ledger=self._ledger,
                emit=emit,
                progress=progress,
                cancelled=self._cancel_scans,
                recent_seconds=self._config().runner.debounce_ms / 1000,
            )
        except FileNotFoundError:
            self.bucket_gone(bucket)
        except Exception:
            log.exception("scan of %s failed", bucket)
        finally:
            self._scan_tasks.pop(bucket, None)
            self._scans.pop(bucket, None)
            if bucket in self._rescan_requested and not self._closed:
                self._rescan_requested.discard(bucket)
                self.request_scan(bucket, "again")

    def _progress(self, bucket: str, scanned: int, queued: int, reason: ScanReason) -> None:
        if bucket in self._scans:
            self._scans[bucket] = ScanProgress(bucket, scanned, queued, True, reason)

    async def _periodic_rescan(self) -> None:
        while True:
            await asyncio.sleep(max(self._config().runner.rescan_seconds, 1.0))
            self.request_scan_all("periodic")

    def on_overflow(self, message: str) -> None:
        """The watchers lost events: rescan everything."""
        self._metrics.overflows += 1
        log.warning("watcher overflow (%s): rescanning every bucket", message)
        self.request_scan_all("overflow")

    # ---- shutdown ------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop every watcher and scan (at shutdown); `wait_closed` waits for them to end."""
        self._closed = True
        for w in self.watchers.values():
            w.stop()
        self._cancel_scans.set()
        for t in self._scan_tasks.values():
            t.cancel()

    async def wait_closed(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, *self._scan_tasks.values(), return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
