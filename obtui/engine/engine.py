"""The engine: the composition root. It builds the components (buckets, intake, dispatcher,
processor, ledger, publisher, reloader), wires them with narrow hooks, runs them on one asyncio
loop and shuts them down in order. Clients talk to it through the thread-safe `EngineControl`
methods and read `snapshot()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obtui.api.control import ReloadDiff
from obtui.api.snapshot import EngineSnapshot, EngineState
from obtui.config.model import Config, RunnerConfig
from obtui.engine.bucket_locks import acquire_runner_locks
from obtui.engine.buckets import BucketHooks, Buckets
from obtui.engine.history import RunHistory
from obtui.engine.pipeline.dispatcher import Dispatcher
from obtui.engine.pipeline.intake import Intake
from obtui.engine.pipeline.metrics import MetricsCollector
from obtui.engine.pipeline.patterns import Matcher
from obtui.engine.pipeline.post_steps import resume_unfinished
from obtui.engine.pipeline.processor import Hooks, Processor
from obtui.engine.pipeline.prometheus import start_exporter
from obtui.engine.pipeline.scanner import sweep_temps_of
from obtui.engine.pipeline.watcher import BucketWatcher, OverflowAlarm
from obtui.engine.publish import Publisher, Sources, poking
from obtui.engine.reload import Reloader, ReloadHooks
from obtui.engine.requests import RequestDeps, Requests
from obtui.engine.seams import LocalLedger, OutcomeLedger
from obtui.tracking.records import ErrorRecord
from obtui.tracking.sqlite_store import SQLiteStore
from obtui.tracking.writer import RecordWriter

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
        self.state_dir = Path(state_dir)
        self.once = once
        self.run_id = time.strftime("RUN-%Y-%m-%d-%H%M%S", time.gmtime())
        self.state: EngineState = "starting"
        self.metrics = MetricsCollector()
        self.history = RunHistory(on_record=self.metrics.error_record)
        self.reloader = Reloader(config, list(cli_buckets or []))
        self._follow_config = follow_config
        self._initial = EngineSnapshot(run_id=self.run_id, pid=os.getpid(), started_at=time.time())
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None  # created on the loop in run()
        self._force = False
        self._forced = asyncio.Event()  # set on the loop by a force during a graceful stop
        self._stop_requested = False
        self._tasks: list[asyncio.Task[Any]] = []
        # Built by run(), on the engine loop.
        self.buckets: Buckets | None = None
        self.publisher: Publisher | None = None
        self._parts: _Parts | None = None
        self._requests: Requests | None = None

    @property
    def config(self) -> Config:
        return self.reloader.config

    @property
    def matcher(self) -> Matcher:
        return self.reloader.matcher

    @property
    def watchers(self) -> Mapping[str, BucketWatcher]:
        return self.buckets.watchers if self.buckets else {}

    @property
    def missing(self) -> Mapping[str, str]:
        """Buckets that are gone, with the message saying so."""
        return self.buckets.missing if self.buckets else {}

    @property
    def _scan_tasks(self) -> Mapping[str, Any]:  # read by tests.helpers.scan_finished_after
        return self.buckets.scanning if self.buckets else {}

    # ---- thread-safe control (EngineControl) ----------------------------------------------------

    def snapshot(self) -> EngineSnapshot:
        publisher = self.publisher
        return publisher.current if publisher else self._initial

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(poking, self.publisher, fn, *args)

    def pause(self) -> None:
        self._call(self._set_paused, True)

    def resume(self) -> None:
        self._call(self._set_paused, False)

    def rescan(self) -> None:
        if self.buckets is not None:
            self._call(self.buckets.request_scan_all, "manual")

    def reload(self) -> None:
        """Re-read the config file (SIGHUP)."""
        source = self.config.source
        if source is not None:
            self._call(lambda: self._spawn(self.reloader.reload_from_file(source)))

    def record_config_error(self, message: str, source: str | None) -> None:
        """Put a config edit a client rejected on record (Configuration category); never blocks."""
        self._call(lambda: self._spawn(self.reloader.record_config_error(message, source)))

    def request_stop(self, force: bool = False) -> None:
        self._stop_requested = True  # seen by run() even before the loop exists
        self._force = self._force or force

        def stop() -> None:
            if self._force:  # set above, before this runs on the loop
                self._forced.set()  # cuts short a graceful stop already waiting on in-flight work
            if self._stop is not None:
                self._stop.set()

        self._call(stop)

    def apply_config(self, config: Config) -> ReloadDiff:
        """Swap in a new configuration. Blocks (up to 10 s) when called from another thread."""
        loop = self._loop
        if loop is None:
            return self.reloader.apply(config)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            return self.reloader.apply(config)
        return asyncio.run_coroutine_threadsafe(self.reloader.apply_async(config), loop).result(10)

    def subscribe(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """`callback(event)` is called on the engine loop for every outcome (keep it quick)."""
        self.history.subscribe(callback)

    # ---- lifecycle ----------------------------------------------------------------------------

    async def run(self) -> int:
        """Run until stopped (or, with once=True, until caught up): 0, or 1 when any file failed."""
        self._loop = asyncio.get_running_loop()
        self._stop = stop = asyncio.Event()
        if self._stop_requested:
            stop.set()
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.locks = lock = acquire_runner_locks(self.state_dir, self.config)  # state dir, buckets
        store = SQLiteStore(self.state_dir)
        writer = RecordWriter(store)
        writer.start()
        ledger: OutcomeLedger = LocalLedger(store, writer)
        node = None
        if self.config.cluster is not None:  # cluster mode: the Redis seams (imports redis-py)
            from obtui.cluster.node import ClusterNode

            node = ClusterNode.of(lambda: self.config)
            ledger = node.ledger(ledger)
        parts = self._build(ledger, node)
        alarm = OverflowAlarm(self._loop, parts.buckets.on_overflow)
        alarm.install()
        try:
            await self.history.load(store)
            self._spawn(
                await start_exporter(self.config.metrics.listen, self.snapshot, self.subscribe, store)
            )
            await asyncio.to_thread(sweep_temps_of, self.config)
            parts.dispatcher.start()
            self.state = "running"
            log.info(
                "%s started (pid %d%s): buckets %s; rules %s",
                self.run_id,
                os.getpid(),
                ", once" if self.once else "",
                ", ".join(str(b.path) for b in self.config.buckets),
                ", ".join(r.name for r in self.config.rules),
            )
            if self.once:
                for b in self.config.buckets:
                    parts.buckets.request_scan(str(b.path), "start")
            else:
                parts.buckets.watch_all()
                if self._follow_config and self.config.source is not None:
                    self._spawn(self.reloader.follow(self.config.source))
            self._spawn(parts.publisher.run())
            await resume_unfinished(ledger, parts.dispatcher)
            await self._start_requests(parts, store, writer)
            if self.once:
                await self._until_caught_up(parts)
            else:
                await stop.wait()
        finally:
            await self._shutdown(parts, writer, node)
            alarm.uninstall()
            store.close()
            lock.close()
        return 1 if self.history.failed_this_run else 0

    def _build(self, ledger: OutcomeLedger, node: Any = None) -> _Parts:
        """Build the components and wire them (on the engine loop)."""
        runner = self.config.runner
        buckets = Buckets(
            config=lambda: self.config,
            matcher=lambda: self.matcher,
            ledger=ledger,
            metrics=self.metrics,
            once=self.once,
            locks=self.locks.buckets,
            hooks=BucketHooks(
                on_events=lambda batch: poking(self.publisher, intake.on_events, batch),
                forget=lambda bucket: intake.forget_bucket(bucket),
                accept=lambda bucket, batch: intake.accept_scan(bucket, batch),
                record_error=self._record_error,
            ),
        )
        dispatcher = Dispatcher(
            batch_handler=lambda items: processor.process_batch(list(items)),
            batchable=lambda job: processor.pace.batchable(self.matcher, job),
            concurrency=runner.concurrency,
            capacity=runner.max_queue_size,
            on_backlog_cleared=lambda: buckets.request_scan_all("backlog"),
            **(node.seams() if node is not None else {}),
        )
        intake = Intake(
            matcher=lambda: self.matcher,
            dispatcher=dispatcher,
            metrics=self.metrics,
            debounce=runner.debounce_ms / 1000,
            max_delay=runner.max_delay_ms / 1000,
            polling=buckets.is_polling,
            on_bucket_gone=buckets.bucket_gone,
            held_back=lambda path: path in processor.retrying,
        )
        h = self.history
        processor = Processor(
            matcher=lambda: self.matcher,
            runner=lambda: self.config.runner,
            ledger=ledger,
            dispatcher=lambda: dispatcher,
            metrics=self.metrics,
            hooks=Hooks(h.on_success, h.on_error, h.on_breaker_open),
        )
        if node is not None:
            node.join(dispatcher, processor)  # feeds the dispatcher from Redis from now on

        def retune(r: RunnerConfig) -> None:
            intake.configure(r.debounce_ms / 1000, r.max_delay_ms / 1000)
            dispatcher.configure(capacity=r.max_queue_size, concurrency=r.concurrency)

        self.reloader.connect(
            ReloadHooks(
                runner=retune,
                bucket_added=lambda b: buckets.start_bucket(b, "bucket-added"),
                bucket_removed=buckets.drop,
                rescan_all=buckets.request_scan_all,
                record_error=self._record_error,
                store_changed=self._store_changed,
            )
        )
        sources = Sources(
            run_id=self.run_id,
            started_at=self._initial.started_at,
            state_dir=self.state_dir,
            state=lambda: self.state,
            reloader=self.reloader,
            dispatcher=dispatcher,
            processor=processor,
            intake=intake,
            buckets=buckets,
            metrics=self.metrics,
            history=self.history,
            cluster=node.view if node is not None else None,
        )
        self.buckets, self.publisher = buckets, Publisher(sources, self._initial)
        self._parts = _Parts(ledger, buckets, dispatcher, intake, processor, self.publisher)
        return self._parts

    async def _shutdown(self, parts: _Parts, writer: RecordWriter, node: Any = None) -> None:
        self.state = "stopping"
        parts.publisher.publish()
        parts.buckets.close()
        parts.intake.close()
        grace = 0.0 if self._force else self.config.runner.shutdown_grace_seconds
        cut = await parts.dispatcher.close(grace, self._forced)
        if cut:
            log.warning("%d file(s) cut off at shutdown; they stay pending for the next start", len(cut))
        parts.processor.close()
        await asyncio.to_thread(parts.processor.notes.wait_closed)
        if node is not None:
            await node.stop()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, parts.buckets.wait_closed(), return_exceptions=True)
        await writer.close()
        self.state = "stopped"
        log.info("%s stopped: %s", self.run_id, self.metrics.figures().line())
        await asyncio.to_thread(parts.publisher.write_files, True)

    async def _start_requests(self, parts: _Parts, store: SQLiteStore, writer: RecordWriter) -> None:
        """Client requests waiting since before this start (`--retry` without a runner), then,
        when running on, polling for new ones; and `[store] keep` pruning."""
        requests = Requests(
            RequestDeps(
                store=store,
                writer=writer,
                config=lambda: self.config,
                dispatcher=parts.dispatcher,
                busy=lambda path: path in parts.processor.retrying,
                record_error=self._record_error,
                reload_history=lambda: self.history.reload(store),
            )
        )
        self._requests = requests
        await requests.take()
        if self.once:
            await requests.prune_now()
        else:
            self._spawn(requests.poll())
            self._spawn(requests.keep_pruned())

    def _store_changed(self) -> None:
        """A reload changed `[store] keep`: apply it now, not at the next daily prune."""
        if self._requests is not None:
            self._spawn(self._requests.prune_now())

    async def _until_caught_up(self, parts: _Parts) -> None:
        assert self._stop is not None
        d, p = parts.dispatcher, parts.processor
        while not self._stop.is_set():
            await asyncio.sleep(0.05)
            busy = parts.buckets.scanning or d.working or p.retrying or len(parts.intake.settler)
            if not busy:
                waiting = sum(len(b.waiting) for b in p.breakers.values())
                if waiting:
                    log.warning("%d file(s) wait on an open circuit breaker; left for the next run", waiting)
                    self.history.count_unfinished(waiting)
                return

    # ---- small helpers on the loop ----------------------------------------------------------------

    def _set_paused(self, paused: bool) -> None:
        assert self._parts is not None
        d = self._parts.dispatcher
        if paused:
            d.pause()
            self.state = "paused"
        else:
            d.resume()
            self.state = "running"

    async def _record_error(self, rec: ErrorRecord) -> None:
        """Put an error that is no one file's outcome on record (a missing bucket, a bad config)."""
        assert self._parts is not None
        try:
            finished = await self._parts.ledger.finish(rec)
        except Exception:
            log.exception("could not record error")
            return
        if isinstance(finished.record, ErrorRecord):
            self.history.on_error(finished.record, False, None)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._tasks.append(asyncio.ensure_future(coro))


@dataclass
class _Parts:
    """The components `run()` built, handed to the steps that need them."""

    ledger: OutcomeLedger
    buckets: Buckets
    dispatcher: Dispatcher
    intake: Intake
    processor: Processor
    publisher: Publisher
