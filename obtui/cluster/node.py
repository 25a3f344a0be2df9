"""One cluster host inside the engine: the Redis connection (reconnecting with backoff) and the
loops that enqueue ready files, take work, reclaim crashed hosts' files, renew leases and announce
the host. Built by the engine's composition root when `[cluster]` is set; the engine sees it only
through the three seams in `obtui.cluster.seams`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from redis.exceptions import ResponseError

from obtui import __version__
from obtui.cluster import keys
from obtui.cluster.fence import FinishGroup
from obtui.cluster.protocol import DOWN, Coordinator, Delivery, connect
from obtui.cluster.seams import (
    ClusterClaims,
    ClusterLedger,
    ClusterQueue,
    Held,
    begin_many,
    cancelling,
    still_wanted,
)
from obtui.cluster.versions import enqueue_loop
from obtui.cluster.watch import ClusterWatch
from obtui.config.cluster import masked_url
from obtui.config.model import BucketConfig, ClusterConfig, Config, RuleConfig, RunnerConfig
from obtui.engine.jobs import Job
from obtui.engine.seams import OutcomeLedger

log = logging.getLogger("obtui.cluster")
T = TypeVar("T")
_DOWN = DOWN


class ClusterNode:
    """This host's side of the cluster. `start()` and `stop()` on the engine loop."""

    def __init__(
        self,
        cluster: ClusterConfig,
        buckets: Callable[[], tuple[BucketConfig, ...]],
        runner: Callable[[], RunnerConfig],
        rules: Callable[[], tuple[RuleConfig, ...]],
    ) -> None:
        self.cfg = cluster
        self.host = cluster.host
        self.lease_ms = int(cluster.lease_seconds * 1000)
        self._buckets = buckets
        self._runner = runner
        self._rules = rules
        self.r = connect(cluster.redis)
        self.coord = Coordinator(
            self.r, self.host, lease_ms=self.lease_ms, max_deliveries=cluster.max_deliveries
        )
        self.queue = ClusterQueue(self)
        self.claims = ClusterClaims(self)
        self.fence = FinishGroup(self)  # the fenced FINISHes, grouped while one is on its way
        self.view = ClusterWatch(cluster.redis, cluster.host)  # the dashboard's Cluster pane
        self.connected = False
        self.disconnected_since: float | None = time.time()
        self.done = 0
        self._held: dict[str, Held] = {}  # stream id -> held entry
        self._by_path: dict[str, Held] = {}  # path -> the held entry the local queue runs now
        self._overflow: deque[Held] = deque()  # another version of the path is busy here
        self._enqueue: dict[str, Job] = {}  # path -> ready job waiting to be hashed and queued
        self._wake = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._dispatcher: Any = None
        self._wanted: Callable[[str], bool] = lambda _p: False
        self._quick: Callable[[], bool] = lambda: False

    # -- wiring --------------------------------------------------------------------------------

    def ledger(self, local: OutcomeLedger) -> ClusterLedger:
        return ClusterLedger(self, local)

    @classmethod
    def of(cls, config: Callable[[], Config]) -> ClusterNode:
        """The node for the engine's config in force (`[cluster]` set)."""
        cluster = config().cluster
        assert cluster is not None
        return cls(cluster, lambda: config().buckets, lambda: config().runner, lambda: config().rules)

    def seams(self) -> dict[str, Any]:
        """The dispatcher's queue and claims."""
        return {"queue": self.queue, "claims": self.claims}

    def join(self, dispatcher: Any, processor: Any) -> None:
        """Feed `dispatcher` (whose retries and breakers live in `processor`); join the cluster."""
        self._dispatcher = dispatcher
        self._wanted = still_wanted(processor, dispatcher)
        self._quick = lambda: all(processor.pace.quick(rule) for rule in self._rules())
        # In the background: Redis may be down; files found meanwhile wait in the enqueue backlog.
        self.view.start()
        self._tasks.append(asyncio.create_task(self._join(), name="obtui-cluster-join"))

    def _ids(self) -> dict[str, str]:
        """bucket id -> this host's folder for it."""
        return {b.cluster_id: str(b.path) for b in self._buckets()}

    def _id_of(self, bucket_path: str) -> str | None:
        return next((b.cluster_id for b in self._buckets() if str(b.path) == bucket_path), None)

    # -- lifecycle -----------------------------------------------------------------------------

    async def _join(self) -> None:
        """Groups exist, this host's own pending files come back first, then the loops run."""
        await self._retrying(self._ensure_groups)
        ids = list(self._ids())
        for d in await self._retrying(lambda: self.coord.take(ids, 10_000, 0, own=True)):
            self._adopt(d)
        info = await self._retrying(lambda: self.r.config_get("appendonly"))
        if info.get("appendonly") != "yes":
            log.warning(
                "Redis runs without its append-only file: a Redis restart loses the queue and the "
                "outcomes (set appendonly yes and appendfsync always)"
            )
        for loop in (self._fetch_loop, self._reclaim_loop, self._renew_loop, self._enqueue_loop):
            self._tasks.append(asyncio.create_task(loop(), name=f"obtui-cluster-{loop.__name__}"))
        log.info(
            "joined the cluster at %s as %r (lease %gs)",
            masked_url(self.cfg.redis),
            self.host,
            self.lease_ms / 1000,
        )

    async def stop(self) -> None:
        self._stopping = True
        for t in self._tasks:
            t.cancel()
        if self._tasks:  # bounded: a loop that ignored its cancellation must not hang the stop
            await asyncio.wait(self._tasks, timeout=2.0)
        await self.fence.close()
        for step, limit in ((self._hand_back_all, 2.0), (self.coord.sign_off, 1.0)):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(step(), limit)
        with contextlib.suppress(Exception):
            await self.r.aclose()
        await asyncio.to_thread(self.view.stop)

    async def _hand_back_all(self) -> None:
        """What this host held without an outcome goes to the other hosts now, not after the lease.
        Read from its pending list, not only `_held`: a read cut off by the stop (XREADGROUP or
        XAUTOCLAIM cancelled after Redis answered) left entries there this host never saw."""
        n = 0
        for bucket in self._ids():
            pending = await self.r.xpending_range(
                keys.jobs(bucket), keys.GROUP, "-", "+", 10_000, consumername=self.host
            )
            n += await self.coord.hand_back(bucket, [str(p["message_id"]) for p in pending])
        if n:
            log.info("cluster: handed %d unfinished file(s) back to the other hosts", n)

    async def _ensure_groups(self) -> None:
        for b in self._ids():
            await self.coord.ensure_group(b)

    async def _retrying(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run one Redis call, reconnecting with capped exponential backoff while Redis is down
        or cut off (forever, unless the engine is stopping)."""
        delay = 0.05
        while True:
            try:
                result = await fn()
            except _DOWN as exc:
                self._down(exc)
                if self._stopping:
                    raise
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 2.0)
                continue
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                await self._ensure_groups()  # Redis lost its data: start the groups again
                continue
            self._up()
            return result

    def _down(self, exc: BaseException) -> None:
        if self.connected or self.disconnected_since is None:
            log.warning("cluster: Redis unreachable (%s); retrying with backoff", exc)
            self.disconnected_since = time.time()
        self.connected = False

    def _up(self) -> None:
        if not self.connected:
            if self.disconnected_since is not None and self._tasks:
                log.info("cluster: Redis reachable again")
            self.connected = True
            self.disconnected_since = None

    # -- held entries --------------------------------------------------------------------------

    def held_for(self, path: str) -> Held | None:
        return self._by_path.get(path)

    def _adopt(self, d: Delivery) -> None:
        if d.stream_id in self._held:
            return
        bucket = self._ids().get(d.bucket)
        if bucket is None:
            return  # not a bucket of this host (any more): its lease runs out, another takes it
        path = os.path.join(bucket, *d.rel.split("/"))
        job = Job(path, bucket, d.rel, "cluster", is_dir=d.is_dir)
        held = Held(d, job)
        self._held[d.stream_id] = held
        self._overflow.append(held)
        self._promote()

    def _promote(self) -> None:
        """Hand waiting entries to the dispatcher once their path is free here."""
        d = self._dispatcher
        if d is None:
            return
        for _ in range(len(self._overflow)):
            held = self._overflow.popleft()
            path = held.job.path
            if held.lost:
                self._held.pop(held.delivery.stream_id, None)
            elif path in self._by_path or path in d.inflight:
                self._overflow.append(held)
            else:
                self._by_path[path] = held
                d.requeue_front(held.job)
                if path not in self.queue:  # refused: try again on the next tick
                    del self._by_path[path]
                    self._overflow.append(held)

    def drop(self, held: Held) -> None:
        """Stop holding an entry without an outcome (its lease runs out; another host takes it)."""
        held.lost = True
        self._forget(held)

    def _forget(self, held: Held) -> None:
        self._held.pop(held.delivery.stream_id, None)
        if self._by_path.get(held.job.path) is held:
            del self._by_path[held.job.path]
            self.queue.drop(held.job.path)
        asyncio.get_running_loop().call_soon(self._promote)  # after the worker lets the path go
        self._slot_freed.set()

    # -- the claim and the finish --------------------------------------------------------------

    async def begin(self, held: Held) -> bool:
        """The fenced check right before running: still ours, and no outcome yet."""
        return (await begin_many(self, [held]))[0]

    async def renew_one(self, held: Held) -> bool:
        lost = await self._retrying(lambda: self.coord.renew(held.delivery.bucket, [held.delivery.stream_id]))
        if lost:
            held.lost = True
        return not held.lost

    async def finish(self, held: Held, state: str, doc: dict[str, Any]) -> str | None:
        """Commit the outcome in Redis. None when committed; else why it was refused."""
        return (await self.fence.finish([(held, state, doc)]))[0]

    async def release(self, held: Held) -> None:
        """The worker is done with the file for now."""
        if held.finished or held.lost:
            self._forget(held)
        elif self._wanted(held.job.path):
            return  # a retry or an open breaker brings it back: keep the lease
        elif self._stopping or cancelling():
            return  # cut off by the shutdown: handed back to the other hosts by stop()
        else:
            # No rule took it here (or the local journal already had this content): settle it.
            with contextlib.suppress(*_DOWN):
                await self.finish(held, "skipped", {"path": held.job.path})
            self._forget(held)

    # -- producing -----------------------------------------------------------------------------

    def to_enqueue(self, job: Job) -> bool:
        if job.reason == "resume":  # a post-action left by a crash: this host's own
            if job.path not in self.queue:
                self.queue.hand_out(job)
            return True
        self._enqueue[job.path] = job
        self._wake.set()
        return True

    def enqueue_backlog(self) -> int:
        return len(self._enqueue)

    async def _enqueue_loop(self) -> None:
        await enqueue_loop(self)

    # -- consuming -----------------------------------------------------------------------------

    def _free_slots(self) -> int:
        d = self._dispatcher
        if d is None or d.paused:
            return 0
        busy = len(d.inflight) + len(getattr(d, "finishing", ())) + len(self._overflow)  # finishing: tails
        busy += sum(1 for h in self._by_path.values() if not h.begun)
        # A batch per worker ahead of the workers (those leases are renewed like the running
        # ones): a full batch while every rule is quick (notes, quick programs), so that a burst
        # runs in batches (one BEGIN, one FINISH per batch) as it does on a single host; else
        # one file per worker, so that slow programs' files stay in the stream for other hosts.
        ahead = d.max_batch if self._quick() else 1
        return (1 + ahead) * self._runner().concurrency - busy

    async def _fetch_loop(self) -> None:
        while True:
            self._promote()
            free = self._free_slots()
            ids = list(self._ids())
            if free <= 0 or not ids:
                self._slot_freed.clear()
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation that
                # meets the timeout, and this loop then outlived stop() (a host hung on SIGTERM).
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.25):
                        await self._slot_freed.wait()
                continue
            try:
                got = await self._retrying(partial(self.coord.take, ids, free, 500))
            except ResponseError as exc:
                log.warning("cluster: cannot read the queue: %s", exc)
                await asyncio.sleep(1)
                continue
            for d in got:
                self._adopt(d)

    async def _reclaim_loop(self) -> None:
        period = max(0.1, self.lease_ms / 4000)
        while True:
            await asyncio.sleep(period)
            for b in list(self._ids()):
                try:
                    runnable, dead = await self.coord.reclaim(b)
                    self._up()
                except _DOWN as exc:
                    self._down(exc)
                    break
                except ResponseError as exc:
                    if "NOGROUP" in str(exc):
                        await self._retrying(self._ensure_groups)
                    continue
                for d in runnable:
                    log.info("cluster: took over %s (delivery %d)", d.job_key, d.deliveries)
                    self._adopt(d)
                if dead:
                    log.warning("cluster: %d file(s) dead-lettered in bucket %s (see obtui --dlq)", dead, b)

    async def _renew_loop(self) -> None:
        period = max(0.1, self.lease_ms / 3000)
        while True:
            try:
                await self._renew_all()
                await self.coord.heartbeat(self._figures(), max(3 * int(period * 1000), self.lease_ms))
                self._up()
            except _DOWN as exc:
                self._down(exc)
            await asyncio.sleep(period)

    async def _renew_all(self) -> None:
        by_bucket: dict[str, list[Held]] = {}
        for held in list(self._held.values()):
            if not held.lost and not held.finished:
                by_bucket.setdefault(held.delivery.bucket, []).append(held)
        for bucket, helds in by_bucket.items():
            lost = set(await self.coord.renew(bucket, [h.delivery.stream_id for h in helds]))
            for h in helds:
                if h.delivery.stream_id in lost:
                    h.lost = True
                    log.warning(
                        "cluster: lost the lease on %s (another host took it over)", h.delivery.job_key
                    )
                    if not h.begun and h.job.path not in getattr(self._dispatcher, "inflight", {}):
                        self._forget(h)

    def _figures(self) -> dict[str, Any]:
        inflight = len(self._dispatcher.inflight) if self._dispatcher is not None else 0
        return {"pid": os.getpid(), "version": __version__, "in_flight": inflight, "held": len(self._held),
                "done": self.done, "buckets": sorted(self._ids())}  # fmt: skip
