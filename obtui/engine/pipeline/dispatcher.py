"""Bounded, coalescing work queue with a fixed number of workers.

- One entry per path: a path already queued is not queued twice; a path that becomes ready
  again while it is being processed is processed once more afterwards (its content changed).
- Bounded: when the queue is full, `submit` refuses and marks a backlog. Nothing is dropped
  silently: the engine runs a reconciliation scan when the queue has drained, and the scan
  finds every file whose content is not on record.
- `pause()` stops workers from taking new jobs; in-flight jobs finish.
- A worker holds a claim on its file (`seams.Claims`) while the handler runs.
- The handler may return a *tail* (an awaitable: waiting for the record's commit, then the
  post-action). The worker does not wait for it: it takes the next file at once, and the tail
  runs on its own, still holding the claim; the path counts as busy (`finishing`) until the tail
  is done. At most `max_finishing` tails run at once (a worker waits for room).
- With a `batch_handler`, a worker takes several queued jobs at once when the queue is deep
  (up to `max_batch`, and never more than its share of the queue), so a burst costs one hop to
  a thread and one tail per batch rather than per file; a single drop is still a batch of one.
  Only jobs `batchable(job)` says yes to are batched, and a batch ends with the first job that
  is not: a long command never holds the claims of files queued behind it in its batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from obtui.engine.jobs import Job
from obtui.engine.seams import Claim, Claims, LocalClaims, LocalQueue, WorkQueue

__all__ = ["BatchHandler", "Dispatcher", "Handler", "Job"]

log = logging.getLogger("obtui.dispatcher")
# What a handler returns: None when the job is done, or the tail still to run.
Handler = Callable[[Job, Claim], Awaitable[Awaitable[None] | None]]
BatchHandler = Callable[[list[tuple[Job, Claim]]], Awaitable[Awaitable[None] | None]]
MAX_FINISHING = 256  # tails (batches) running at once
MAX_BATCH = 32


class Dispatcher:
    """Feeds jobs from the queue to `handler(job, claim)` (or batches of them to
    `batch_handler([(job, claim), ...])`) with at most `concurrency` workers running at once,
    each holding the claims on its files."""

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        batch_handler: BatchHandler | None = None,
        max_batch: int = MAX_BATCH,
        batchable: Callable[[Job], bool] | None = None,
        concurrency: int,
        capacity: int,
        queue: WorkQueue | None = None,
        claims: Claims | None = None,
        on_backlog_cleared: Callable[[], None] | None = None,
        max_finishing: int = MAX_FINISHING,
    ) -> None:
        if (handler is None) == (batch_handler is None):
            raise ValueError("give a handler or a batch_handler")
        self._handler = handler
        self._batch_handler = batch_handler
        self.max_batch = max_batch
        self._batchable = batchable or (lambda job: True)
        self.capacity = capacity
        self.queue: WorkQueue = queue if queue is not None else LocalQueue()
        self._claims: Claims = claims if claims is not None else LocalClaims()
        self.inflight: dict[str, Job] = {}
        self.finishing: dict[str, Job] = {}  # handled, their tail (commit, post-action) running
        self._tails: set[asyncio.Task[None]] = set()
        self._tail_room = asyncio.Semaphore(max_finishing)
        self._again: dict[str, Job] = {}  # ready again while busy: a newer version
        self._after: dict[str, Job] = {}  # put back while busy (a retry, a breaker trial)
        self._concurrency = concurrency
        self._workers: list[asyncio.Task[None]] = []
        self._has_work = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._running = asyncio.Event()
        self._running.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.backlog = False
        self._on_backlog_cleared = on_backlog_cleared
        self._closed = False

    # -- intake ---------------------------------------------------------------------------

    def submit(self, job: Job) -> bool:
        """Queue a ready file. False when the queue is full (the path is left to the next scan)."""
        if self._closed:
            return False
        if job.path in self.inflight or job.path in self.finishing:
            self._again[job.path] = job
            return True
        if job.path in self.queue:
            return True
        if len(self.queue) >= self.capacity:
            self.backlog = True
            self._space.clear()
            return False
        self.queue.submit(job)
        self._idle.clear()
        self._has_work.set()
        return True

    async def submit_wait(self, job: Job) -> None:
        """Queue a job, waiting for room (used by scans, which can afford to wait)."""
        while not self._closed and not self.submit(job):
            self._space.clear()
            await self._space.wait()

    def requeue_front(self, job: Job) -> None:
        """Put a job back regardless of capacity (retries, breaker releases): never lose it."""
        if job.path in self.queue:
            return
        if self.busy(job.path):
            # Still finishing (e.g. the tail of the batch it was parked from): it goes back
            # in as soon as that is done, never dropped.
            self._after[job.path] = job
            return
        self.queue.requeue(job)
        self._idle.clear()
        self._has_work.set()

    @property
    def working(self) -> bool:
        """Anything queued, running or finishing."""
        return bool(self.queue or self.inflight or self.finishing)

    def coming_back(self, path: str) -> bool:
        """The path was put back while busy (a retry, a breaker trial, the rest of a batch that
        ran out of time): it runs again once its current run is settled."""
        return path in self._after

    def busy(self, path: str) -> bool:
        """A worker has the file, or its outcome is still being recorded."""
        return path in self.inflight or path in self.finishing

    # -- control --------------------------------------------------------------------------

    def start(self) -> None:
        self._resize()

    def set_concurrency(self, n: int) -> None:
        self._concurrency = n
        self._resize()

    def configure(self, *, capacity: int, concurrency: int) -> None:
        """New queue capacity and worker count (a config reload)."""
        self.capacity = capacity
        self.set_concurrency(concurrency)

    def _resize(self) -> None:
        self._workers = [t for t in self._workers if not t.done()]
        while len(self._workers) < self._concurrency:
            self._workers.append(asyncio.create_task(self._work(), name="obtui-worker"))
        # Surplus workers exit on their own after their current job (see _work).

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def drop_queued(self) -> list[Job]:
        """Empty the queue (shutdown): those files stay unrecorded and are found by the next scan."""
        jobs = []
        while (job := self.queue.take()) is not None:
            jobs.append(job)
        self._again.clear()
        self._after.clear()
        return jobs

    async def wait_idle(self) -> None:
        """Until nothing is queued or in flight."""
        while self.queue or self.inflight or self.finishing:
            self._idle.clear()
            await self._idle.wait()

    async def close(self, grace: float, cut_short: asyncio.Event | None = None) -> list[Job]:
        """Stop taking work, let in-flight jobs finish within `grace` seconds (or until
        `cut_short` is set: a forced stop during a graceful one), then cancel them.
        Returns the jobs that were cut off."""
        self._closed = True
        self.drop_queued()
        self._space.set()
        cut: list[Job] = []
        if (
            (self.inflight or self.finishing)
            and grace > 0
            and not (cut_short is not None and cut_short.is_set())
        ):
            waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._wait_inflight())]
            if cut_short is not None:
                waits.append(asyncio.ensure_future(cut_short.wait()))
            try:
                await asyncio.wait(waits, timeout=grace, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
                await asyncio.gather(*waits, return_exceptions=True)
        cut = list(self.inflight.values()) + list(self.finishing.values())
        for t in [*self._workers, *self._tails]:
            t.cancel()
        await asyncio.gather(*self._workers, *self._tails, return_exceptions=True)
        self._workers.clear()
        return cut

    async def _wait_inflight(self) -> None:
        while self.inflight or self.finishing:
            self._idle.clear()
            await self._idle.wait()

    # -- workers --------------------------------------------------------------------------

    async def _work(self) -> None:
        me = asyncio.current_task()
        while True:
            await self._running.wait()
            if self._closed:
                return
            if len([t for t in self._workers if not t.done()]) > self._concurrency:
                if me in self._workers:
                    self._workers.remove(me)  # type: ignore[arg-type]
                return
            await self._tail_room.acquire()  # room for this batch's tail, taken before the jobs
            jobs = self._take_batch()
            if not jobs:
                self._tail_room.release()
                self._has_work.clear()
                self._signal()
                await self._has_work.wait()
                continue
            for job in jobs:
                self.inflight[job.path] = job
            self._signal()
            held: list[tuple[Job, Claim]] = []
            for job, claim in zip(jobs, await self._claim(jobs), strict=True):
                if claim is None:  # another worker holds it: that one records its outcome
                    self.inflight.pop(job.path, None)
                else:
                    held.append((job, claim))
            if not held:
                self._tail_room.release()
                self._signal()
                continue
            tail: Awaitable[None] | None = None
            try:
                if self._batch_handler is not None:
                    tail = await self._batch_handler(held)
                else:
                    assert self._handler is not None and len(held) == 1
                    tail = await self._handler(*held[0])
            finally:
                if tail is None:
                    self._tail_room.release()
                    for job, claim in held:
                        await self._done(job, claim)
            if tail is not None:  # no await from here on: the tail is always taken care of
                for job, _ in held:
                    self.finishing[job.path] = self.inflight.pop(job.path)
                task = asyncio.ensure_future(self._finish(held, tail))
                self._tails.add(task)
                task.add_done_callback(self._tails.discard)

    async def _claim(self, jobs: list[Job]) -> list[Claim | None]:
        """The batch's claims; a remote claim set takes them in one round trip (`claim_many`)."""
        many = getattr(self._claims, "claim_many", None)
        if many is not None and len(jobs) > 1:
            return list(await many([job.path for job in jobs]))
        return [await self._claims.claim(job.path) for job in jobs]

    def _take_batch(self) -> list[Job]:
        """One job, or with a batch handler up to this worker's share of a deep queue."""
        job = self.queue.take()
        if job is None:
            return []
        jobs = [job]
        if self._batch_handler is not None and self._batchable(job):
            want = min(self.max_batch, 1 + len(self.queue) // max(1, self._concurrency))
            while len(jobs) < want and (job := self.queue.take()) is not None:
                jobs.append(job)
                if not self._batchable(job):
                    break
        return jobs

    async def _finish(self, held: list[tuple[Job, Claim]], tail: Awaitable[None]) -> None:
        try:
            await tail
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("finishing %s failed", ", ".join(job.path for job, _ in held))
        finally:
            self._tail_room.release()
            for job, claim in held:
                await self._done(job, claim)

    async def _done(self, job: Job, claim: Claim) -> None:
        """The job's outcome is settled: free its path and take up a newer version of it."""
        await claim.release()
        self.inflight.pop(job.path, None)
        self.finishing.pop(job.path, None)
        again = self._again.pop(job.path, None)
        after = self._after.pop(job.path, None)
        if not self._closed:
            if after is not None:
                if again is not None:  # and a newer version came: its attempts start over
                    after.attempt = 1
                self.requeue_front(after)
            elif again is not None:
                again.attempt = 1
                self.requeue_front(again)
        self._signal()

    def _signal(self) -> None:
        if len(self.queue) < self.capacity:
            self._space.set()
            if self.backlog and len(self.queue) <= self.capacity // 2:
                self.backlog = False
                if self._on_backlog_cleared:
                    self._on_backlog_cleared()
        # len(), not truth: a cluster queue is always true. Once closed, what is queued stays
        # queued, so a graceful stop waits only for what is in flight.
        if not self.inflight and not self.finishing and (self._closed or len(self.queue) == 0):
            self._idle.set()
