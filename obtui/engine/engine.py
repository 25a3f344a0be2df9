"""The engine: owns the watchers, the intake, the dispatcher, the processor and the record writer,
on one asyncio loop. Clients talk to it through the thread-safe `EngineControl` methods and read
`snapshot()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from obtui.api.control import ReloadDiff
from obtui.api.snapshot import DirReport, EngineSnapshot, ErrorSummary, ScanProgress
from obtui.config.model import Config
from obtui.engine.buckets import Buckets
from obtui.engine.pipeline.dispatcher import Dispatcher
from obtui.engine.pipeline.intake import Intake
from obtui.engine.pipeline.metrics import MetricsCollector
from obtui.engine.pipeline.patterns import Matcher
from obtui.engine.pipeline.processor import Hooks, Processor
from obtui.engine.pipeline.watcher import BucketWatcher, OverflowAlarm
from obtui.engine.publish import Publisher, diff_configs
from obtui.engine.reload import Reloader
from obtui.tracking.records import ErrorRecord, SuccessRecord

log = logging.getLogger("obtui.engine")


class Engine:
    """Run with `await engine.run()`; stop with `request_stop()` from any thread."""

    def __init__(
        self,
        config: Config,
        state_dir: Path,
        *,
        once: bool = False,
        cli_buckets: list[Path] | None = None,
        follow_config: bool = True,
    ) -> None:
        self.config = config
        self.cli_buckets = list(cli_buckets or [])
        self._follow_config = follow_config
        self.state_dir = Path(state_dir)
        self.once = once
        self.run_id = time.strftime("RUN-%Y-%m-%d-%H%M%S", time.gmtime())
        self.started_wall = time.time()
        self.metrics = MetricsCollector()
        self.matcher = Matcher(config)
        self.watchers: dict[str, BucketWatcher] = {}
        self.missing: dict[str, str] = {}  # bucket -> message
        self.scans: dict[str, ScanProgress] = {}
        self.recent_errors: deque[ErrorSummary] = deque(maxlen=50)
        self.dirs: dict[str, DirReport] = {}
        self.state = "starting"
        self.failed_this_run = 0
        self.last_reload: str | None = None
        self._snapshot = EngineSnapshot(run_id=self.run_id, pid=os.getpid(), started_at=self.started_wall)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event = None  # type: ignore[assignment]  # created on the loop in run()
        self._force = False
        self._stop_requested = False
        self._scan_tasks: dict[str, asyncio.Task[None]] = {}
        self._rescan_requested: set[str] = set()
        self._tasks: list[asyncio.Task[Any]] = []
        self._cancel_scans = threading.Event()
        self._subscribers: list[Callable[[dict[str, Any]], None]] = []
        self.buckets = Buckets(self)
        self.reloader = Reloader(self)

    # ---- thread-safe control (EngineControl) ----------------------------------------------------

    def snapshot(self) -> EngineSnapshot:
        return self._snapshot

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(fn, *args)

    def pause(self) -> None:
        self._call(self._set_paused, True)

    def resume(self) -> None:
        self._call(self._set_paused, False)

    def rescan(self) -> None:
        self._call(self.buckets.request_scan_all, "manual")

    def reload(self) -> None:
        """Re-read the config file (SIGHUP)."""
        if self.config.source is not None:
            from obtui.engine.config_watch import reload_from_file

            source = self.config.source
            self._call(lambda: self._spawn(reload_from_file(self, source)))

    def request_stop(self, force: bool = False) -> None:
        self._stop_requested = True  # seen by run() even before the loop exists
        self._force = self._force or force

        def stop() -> None:
            self._force = self._force or force
            if self._stop is not None:
                self._stop.set()

        self._call(stop)

    def apply_config(self, config: Config) -> ReloadDiff:
        """Swap in a new configuration. Blocks (up to 10 s) when called from another thread."""
        loop = self._loop
        if loop is None:
            diff = diff_configs(self.config, config)
            self.config, self.matcher = config, Matcher(config)
            return diff
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            diff = diff_configs(self.config, config)
            self.reloader._apply(config, diff)
            return diff
        return asyncio.run_coroutine_threadsafe(self.reloader._apply_async(config), loop).result(10)

    def subscribe(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """`callback(event)` is called on the engine loop for every outcome (keep it quick)."""
        self._subscribers.append(callback)

    # ---- lifecycle ----------------------------------------------------------------------------

    async def run(self) -> int:
        """Run until stopped (or, with once=True, until every bucket is caught up).

        Returns 0, or 1 when any file failed during this run.
        """
        from obtui.tracking.runtime_files import acquire_runner_lock
        from obtui.tracking.sqlite_store import SQLiteStore
        from obtui.tracking.writer import RecordWriter

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stop_requested:
            self._stop.set()
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = acquire_runner_lock(self.state_dir)
        self.store = SQLiteStore(self.state_dir)
        self.writer = RecordWriter(self.store)
        self.writer.start()
        runner = self.config.runner
        self.dispatcher = Dispatcher(
            self._process,
            concurrency=runner.concurrency,
            capacity=runner.max_queue_size,
            on_backlog_cleared=lambda: self.buckets.request_scan_all("backlog"),
        )
        self.intake = Intake(
            matcher=lambda: self.matcher,
            dispatcher=self.dispatcher,
            metrics=self.metrics,
            debounce=runner.debounce_ms / 1000,
            max_delay=runner.max_delay_ms / 1000,
            polling=self.buckets._is_polling,
            on_bucket_gone=self.buckets._bucket_gone,
        )
        self.processor = Processor(
            matcher=lambda: self.matcher,
            runner=lambda: self.config.runner,
            store=self.store,
            writer=self.writer,
            dispatcher=lambda: self.dispatcher,
            metrics=self.metrics,
            hooks=Hooks(self._on_success, self._on_error, self._on_breaker_open),
        )
        self.publisher = Publisher(self)
        alarm = OverflowAlarm(self._loop, self.buckets._on_overflow)
        alarm.install()
        try:
            await self._load_history()
            await asyncio.to_thread(self._sweep_temps)
            self.dispatcher.start()
            self.state = "running"
            log.info(
                "%s started (pid %d%s): buckets %s; rules %s",
                self.run_id,
                os.getpid(),
                ", once" if self.once else "",
                ", ".join(str(b.path) for b in self.config.buckets),
                ", ".join(r.name for r in self.config.rules),
            )
            if not self.once:
                for b in self.config.buckets:
                    self.buckets._start_bucket(b, "start")
                self._tasks.append(asyncio.create_task(self.buckets._periodic_rescan()))
                if self._follow_config and self.config.source is not None:
                    from obtui.engine.config_watch import follow_config

                    self._tasks.append(asyncio.create_task(follow_config(self, self.config.source)))
            else:
                for b in self.config.buckets:
                    self.buckets.request_scan(str(b.path), "start")
            self._tasks.append(asyncio.create_task(self.publisher.run()))
            await self._resume_pending()
            if self.once:
                await self._until_caught_up()
            else:
                await self._stop.wait()
        finally:
            await self._shutdown()
            alarm.uninstall()
            lock.close()
        return 1 if self.failed_this_run else 0

    async def _shutdown(self) -> None:
        self.state = "stopping"
        self.publisher.publish()
        for w in self.watchers.values():
            w.stop()
        self._cancel_scans.set()
        for t in self._scan_tasks.values():
            t.cancel()
        self.intake.close()
        grace = 0.0 if self._force else self.config.runner.shutdown_grace_seconds
        cut = await self.dispatcher.close(grace)
        if cut:
            log.warning("%d file(s) cut off at shutdown; they stay pending for the next start", len(cut))
        self.processor.cancel_timers()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, *self._scan_tasks.values(), return_exceptions=True)
        await self.writer.close()
        self.state = "stopped"
        log.info(
            "%s stopped: %d processed, %d failed", self.run_id, self.metrics.successful, self.metrics.failed
        )
        await asyncio.to_thread(self.publisher.write_files, True)
        self.store.close()

    async def _load_history(self) -> None:
        report = await asyncio.to_thread(self.store.report, None)
        self.dirs = {d.directory: d for d in report.directories}
        errors = await asyncio.to_thread(self.store.errors, None, 50)
        for e in reversed(errors):
            self.recent_errors.appendleft(_summary(e))

    def _sweep_temps(self) -> None:
        from obtui.engine.pipeline.scanner import sweep_stale_temps

        roots = {str(b.path) for b in self.config.buckets}
        roots |= {r.output_dir for r in self.config.rules if r.output_dir and os.path.isabs(r.output_dir)}
        removed = sum(sweep_stale_temps(r) for r in roots if os.path.isdir(r))
        if removed:
            log.info("removed %d temporary file(s) left by an interrupted run", removed)

    async def _resume_pending(self) -> None:
        """Files whose record committed but whose move/delete did not happen (a crash)."""
        from obtui.engine.pipeline.dispatcher import Job
        from obtui.engine.pipeline.intake import rel_of

        for entry in await asyncio.to_thread(self.store.manifest_pending):
            rel = rel_of(entry.bucket, entry.path)
            if rel is not None and os.path.lexists(entry.path):
                self.dispatcher.requeue_front(Job(entry.path, entry.bucket, rel, "resume"))

    async def _until_caught_up(self) -> None:
        while not self._stop.is_set():
            await asyncio.sleep(0.05)
            busy = (
                self._scan_tasks
                or self.dispatcher.queue
                or self.dispatcher.inflight
                or self.processor.retrying
                or len(self.intake.settler)
            )
            if not busy:
                waiting = sum(len(b.waiting) for b in self.processor.breakers.values())
                if waiting:
                    log.warning("%d file(s) wait on an open circuit breaker; left for the next run", waiting)
                    self.failed_this_run += waiting
                return

    # ---- processing hooks -----------------------------------------------------------------------

    async def _process(self, job: Any) -> None:
        await self.processor.process(job)

    def _set_paused(self, paused: bool) -> None:
        if paused:
            self.dispatcher.pause()
            self.state = "paused"
        else:
            self.dispatcher.resume()
            self.state = "running"

    def _on_success(self, rec: SuccessRecord) -> None:
        d = self.dirs.get(rec.watch_dir) or DirReport(rec.watch_dir)
        total = d.total + 1
        # Averaged over successful files, as the store's report does.
        avg = (d.avg_duration_ms * d.successful + rec.duration_ms) / (d.successful + 1)
        self.dirs[rec.watch_dir] = DirReport(
            rec.watch_dir,
            total,
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
        self._emit({"event": "success", **rec.to_json()})

    def _on_error(self, rec: ErrorRecord, failed: bool) -> None:
        self.recent_errors.appendleft(_summary(rec))
        if failed:
            self.failed_this_run += 1
            if rec.watch_dir:
                d = self.dirs.get(rec.watch_dir) or DirReport(rec.watch_dir)
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
        self._emit({"event": "error", **rec.to_json()})

    def _on_breaker_open(self, rule: str) -> None:
        log.warning("circuit breaker opened for rule %r: its files wait", rule)
        self._emit({"event": "breaker_open", "rule": rule})

    def _emit(self, event: dict[str, Any]) -> None:
        for cb in self._subscribers:
            try:
                cb(event)
            except Exception:
                log.exception("subscriber failed")

    async def _record_error(self, rec: ErrorRecord) -> None:
        try:
            saved = await self.writer.commit(rec, None)
        except Exception:
            log.exception("could not record error")
            return
        self._on_error(saved, False)  # type: ignore[arg-type]

    def _spawn(self, coro: Any) -> None:
        self._tasks.append(asyncio.ensure_future(coro))


def _summary(e: ErrorRecord) -> ErrorSummary:
    return ErrorSummary(
        e.error_id, e.timestamp, str(e.severity), str(e.category), e.message, e.file_path, e.rule
    )
