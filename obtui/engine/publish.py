"""Publishing the engine's state: the in-memory snapshot (4×/s), status.json for `obtui --status`,
metrics.jsonl every `metrics_interval_seconds`, and the run placeholders (RUN_SUMMARY.md,
METRICS.md, PATTERNS.md, CONFIG_DUMP.md) in the state dir.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from obtui.api.snapshot import (
    BreakerState,
    ClusterView,
    EngineSnapshot,
    EngineState,
    QueueItem,
    QueueStatus,
)
from obtui.engine.buckets import Buckets
from obtui.engine.history import RunHistory
from obtui.engine.pipeline.dispatcher import Dispatcher
from obtui.engine.pipeline.intake import Intake
from obtui.engine.pipeline.metrics import MetricsCollector
from obtui.engine.pipeline.processor import Processor
from obtui.engine.placeholders import write_placeholders
from obtui.engine.reload import Reloader
from obtui.tracking.runtime_files import append_metrics, write_status

log = logging.getLogger("obtui.publish")
MAX_ITEMS = 500
SNAPSHOT_SECONDS = 0.25
STATUS_SECONDS = 2.0
PLACEHOLDER_SECONDS = 10.0
# Idle (nothing but the clock changed for QUIET_TICKS snapshots in a row), the engine wakes less
# often: a snapshot a second and status.json every IDLE_STATUS_SECONDS; file events and client
# commands wake it at once (`poke`). On a VM every wake-up has a cost of its own.
QUIET_TICKS = 8
IDLE_SNAPSHOT_SECONDS = 1.0
IDLE_STATUS_SECONDS = 10.0


@dataclass
class Sources:
    """What a snapshot is built from: the components (read, never written) and a few getters."""

    run_id: str
    started_at: float
    state_dir: Path
    state: Callable[[], EngineState]
    reloader: Reloader  # the config in force, its matcher and the last reload
    dispatcher: Dispatcher
    processor: Processor
    intake: Intake
    buckets: Buckets
    metrics: MetricsCollector
    history: RunHistory
    # Cluster mode only: the latest view of the cluster, read from Redis off the engine loop.
    cluster: Callable[[], ClusterView] | None = None


class Publisher:
    """Owns the published snapshot (`current`) and its version."""

    def __init__(self, sources: Sources, initial: EngineSnapshot) -> None:
        self.s = sources
        self.current = initial
        self._version = 0
        self._last_status = 0.0
        self._last_placeholders = 0.0
        self._last_metrics = time.monotonic()
        self.quiet = 0  # snapshots in a row in which nothing but the clock changed
        self._wake: asyncio.Future[None] | None = None

    def poke(self) -> None:
        """Something happened (on the engine loop): publish now, and at full pace again."""
        self.quiet = 0
        self._tick()

    def _tick(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def build(self) -> EngineSnapshot:
        e = self.s
        d = e.dispatcher
        p = e.processor
        settling = e.intake.settler.items()
        waiting = sum(len(b.waiting) for b in p.breakers.values())
        queue = QueueStatus(
            settling=len(settling),
            pending=len(d.queue),
            processing=len(d.inflight),
            waiting=waiting + len(p.retrying),
            completed=e.metrics.successful,
            failed=e.metrics.failed,
            backlog=d.backlog,
        )
        items: list[QueueItem] = []

        def add(
            path: str, bucket: str, rel: str, rule: str | None, state: Any, since: float, attempt: int = 0
        ) -> bool:
            items.append(QueueItem(path, path, bucket, rel, rule, state, since, attempt))
            return len(items) < MAX_ITEMS

        for job in list(d.inflight.values()):
            add(job.path, job.bucket, job.rel, job.rule, "processing", job.since_wall, job.attempt)
        for job in list(p.retrying.values())[:MAX_ITEMS]:
            add(job.path, job.bucket, job.rel, job.rule, "retrying", job.since_wall, job.attempt)
        for br in p.breakers.values():
            for job in islice(br.waiting, MAX_ITEMS):
                add(job.path, job.bucket, job.rel, job.rule, "waiting", job.since_wall, job.attempt)
        for job in islice(iter(d.queue), MAX_ITEMS):
            if len(items) >= MAX_ITEMS:
                break
            add(job.path, job.bucket, job.rel, job.rule, "pending", job.since_wall, job.attempt)
        for path, since in settling[:MAX_ITEMS]:
            if len(items) >= MAX_ITEMS:
                break
            bucket = e.buckets.bucket_of(path)
            add(path, bucket, path[len(bucket) + 1 :] if bucket else path, None, "settling", since)
        breakers = tuple(
            BreakerState(name, b.state, b.failures, b.opened_wall, len(b.waiting))
            for name, b in p.breakers.items()
        )
        state = e.state()
        if state == "running" and d.paused:
            state = "paused"
        config = e.reloader.config
        return EngineSnapshot(
            version=self._version,
            run_id=e.run_id,
            pid=os.getpid(),
            state=state,
            started_at=e.started_at,
            taken_at=time.time(),
            config_path=str(config.source) if config.source else None,
            rules=tuple(r.name for r in config.rules),
            buckets=e.buckets.states(),
            metrics=e.metrics.snapshot(len(d.queue)),
            queue=queue,
            queue_items=tuple(items),
            scans=e.buckets.scan_progress(),
            breakers=breakers,
            recent_errors=tuple(e.history.recent_errors),
            directories=tuple(sorted(e.history.dirs.values(), key=lambda r: r.directory)),
            last_reload=e.reloader.last_reload,
            cluster=e.cluster() if e.cluster is not None else None,
        )

    def publish(self) -> EngineSnapshot:
        snap = self.build()
        prev = self.current
        if dataclasses.replace(snap, taken_at=0.0, version=0) != dataclasses.replace(
            prev, taken_at=0.0, version=0
        ):
            self._version += 1
        self.quiet = self.quiet + 1 if _timeless(snap) == _timeless(prev) else 0
        snap = dataclasses.replace(snap, version=self._version)
        self.current = snap
        return snap

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self.publish()
            idle = self.quiet >= QUIET_TICKS
            now = time.monotonic()
            if now - self._last_status >= (IDLE_STATUS_SECONDS if idle else STATUS_SECONDS):
                self._last_status = now
                placeholders = now - self._last_placeholders >= PLACEHOLDER_SECONDS
                if placeholders:
                    self._last_placeholders = now
                await asyncio.to_thread(self.write_files, placeholders)
            if now - self._last_metrics >= self.s.reloader.config.runner.metrics_interval_seconds:
                self._last_metrics = now
                await asyncio.to_thread(self._append_metrics)
            self._wake = loop.create_future()
            timer = loop.call_later(IDLE_SNAPSHOT_SECONDS if idle else SNAPSHOT_SECONDS, self._tick)
            try:
                await self._wake
            finally:
                timer.cancel()
                self._wake = None

    def _append_metrics(self) -> None:
        try:
            append_metrics(self.s.state_dir, self.current.to_json()["metrics"])
        except OSError as exc:
            log.warning("could not append metrics: %s", exc)

    def write_files(self, placeholders: bool = False) -> None:
        """status.json always; the Markdown placeholders when asked (and at shutdown)."""
        s = self.s
        snap = self.publish() if s.state() == "stopped" else self.current
        try:
            write_status(s.state_dir, snap.to_json())
            if placeholders:
                write_placeholders(s.state_dir, snap, s.reloader.config, s.reloader.matcher.ignore_patterns)
        except OSError as exc:
            log.warning("could not write status files: %s", exc)


def _timeless(s: EngineSnapshot) -> EngineSnapshot:
    """`s` without what changes with the clock alone: the uptime, and the per-second rate
    histories (a snapshot a second still shows each of their samples)."""
    metrics = dataclasses.replace(s.metrics, uptime_s=0.0, event_rate_history=(), file_rate_history=())
    return dataclasses.replace(s, taken_at=0.0, version=0, metrics=metrics)


def poking(publisher: Publisher | None, fn: Callable[..., Any], *args: Any) -> None:
    """`fn(*args)`, then wake `publisher` (on the engine loop): for file events and commands."""
    fn(*args)
    if publisher is not None:
        publisher.poke()
