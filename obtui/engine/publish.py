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
from itertools import islice
from typing import TYPE_CHECKING, Any

from obtui.api.control import ReloadDiff
from obtui.api.snapshot import BreakerState, BucketState, EngineSnapshot, QueueItem, QueueStatus
from obtui.config.model import Config

if TYPE_CHECKING:
    from obtui.engine.engine import Engine

log = logging.getLogger("obtui.publish")
MAX_ITEMS = 500
SNAPSHOT_SECONDS = 0.25
STATUS_SECONDS = 2.0
PLACEHOLDER_SECONDS = 10.0


def diff_configs(old: Config, new: Config) -> ReloadDiff:
    """What changed between two configurations, by rule name and bucket path."""
    o = {r.name: r for r in old.rules}
    n = {r.name: r for r in new.rules}

    def same(a: Any, b: Any) -> bool:
        return dataclasses.replace(a, line=None) == dataclasses.replace(b, line=None)

    ob = {str(b.path) for b in old.buckets}
    nb = {str(b.path) for b in new.buckets}
    runner = tuple(
        f.name
        for f in dataclasses.fields(old.runner)
        if getattr(old.runner, f.name) != getattr(new.runner, f.name)
    )
    return ReloadDiff(
        rules_added=tuple(k for k in n if k not in o),
        rules_removed=tuple(k for k in o if k not in n),
        rules_changed=tuple(k for k in n if k in o and not same(o[k], n[k])),
        buckets_added=tuple(sorted(nb - ob)),
        buckets_removed=tuple(sorted(ob - nb)),
        runner_changed=runner,
    )


class Publisher:
    def __init__(self, engine: Engine) -> None:
        self.e = engine
        self._version = 0
        self._last_status = 0.0
        self._last_placeholders = 0.0
        self._last_metrics = time.monotonic()

    def build(self) -> EngineSnapshot:
        e = self.e
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
            bucket = next((b for b in e.watchers if path.startswith(b + os.sep)), "")
            add(path, bucket, path[len(bucket) + 1 :] if bucket else path, None, "settling", since)
        buckets = []
        for b in e.config.buckets:
            path = str(b.path)
            w = e.watchers.get(path)
            if path in e.missing:
                buckets.append(BucketState(path, "missing", b.recursive, False, e.missing[path]))
            elif w is not None:
                state = "polling" if w.polling else "watching"
                buckets.append(BucketState(path, state, b.recursive, w.polling, w.message))  # type: ignore[arg-type]
            else:
                buckets.append(BucketState(path, "stopped" if not e.once else "polling", b.recursive, e.once))
        breakers = tuple(
            BreakerState(name, b.state, b.failures, b.opened_wall, len(b.waiting))
            for name, b in p.breakers.items()
        )
        state = e.state
        if state == "running" and d.paused:
            state = "paused"
        return EngineSnapshot(
            version=self._version,
            run_id=e.run_id,
            pid=os.getpid(),
            state=state,  # type: ignore[arg-type]
            started_at=e.started_wall,
            taken_at=time.time(),
            config_path=str(e.config.source) if e.config.source else None,
            rules=tuple(r.name for r in e.config.rules),
            buckets=tuple(buckets),
            metrics=e.metrics.snapshot(len(d.queue)),
            queue=queue,
            queue_items=tuple(items),
            scans=tuple(e.scans.values()),
            breakers=breakers,
            recent_errors=tuple(e.recent_errors),
            directories=tuple(sorted(e.dirs.values(), key=lambda r: r.directory)),
            last_reload=e.last_reload,
        )

    def publish(self) -> EngineSnapshot:
        snap = self.build()
        prev = self.e._snapshot
        if dataclasses.replace(snap, taken_at=0.0, version=0) != dataclasses.replace(
            prev, taken_at=0.0, version=0
        ):
            self._version += 1
        snap = dataclasses.replace(snap, version=self._version)
        self.e._snapshot = snap
        return snap

    async def run(self) -> None:
        while True:
            self.publish()
            now = time.monotonic()
            if now - self._last_status >= STATUS_SECONDS:
                self._last_status = now
                placeholders = now - self._last_placeholders >= PLACEHOLDER_SECONDS
                if placeholders:
                    self._last_placeholders = now
                await asyncio.to_thread(self.write_files, placeholders)
            if now - self._last_metrics >= self.e.config.runner.metrics_interval_seconds:
                self._last_metrics = now
                await asyncio.to_thread(self._append_metrics)
            await asyncio.sleep(SNAPSHOT_SECONDS)

    def _append_metrics(self) -> None:
        from obtui.tracking.runtime_files import append_metrics

        try:
            append_metrics(self.e.state_dir, self.e._snapshot.to_json()["metrics"])
        except OSError as exc:
            log.warning("could not append metrics: %s", exc)

    def write_files(self, placeholders: bool = False) -> None:
        """status.json always; the Markdown placeholders when asked (and at shutdown)."""
        from obtui.engine.placeholders import write_placeholders
        from obtui.tracking.runtime_files import write_status

        snap = self.publish() if self.e.state == "stopped" else self.e._snapshot
        try:
            write_status(self.e.state_dir, snap.to_json())
            if placeholders:
                write_placeholders(self.e.state_dir, snap, self.e.config, self.e.matcher.ignore_patterns)
        except OSError as exc:
            log.warning("could not write status files: %s", exc)
