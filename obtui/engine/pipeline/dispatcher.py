"""Bounded, coalescing work queue with a fixed number of workers.

- One entry per path: a path already queued is not queued twice; a path that becomes ready
  again while it is being processed is processed once more afterwards (its content changed).
- Bounded: when the queue is full, `submit` refuses and marks a backlog. Nothing is dropped
  silently: the engine runs a reconciliation scan when the queue has drained, and the scan
  finds every file whose content is not on record.
- `pause()` stops workers from taking new jobs; in-flight jobs finish.
- A worker holds a claim on its file (`seams.Claims`) while the handler runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from obtui.engine.jobs import Job
from obtui.engine.seams import Claim, Claims, LocalClaims, LocalQueue, WorkQueue

__all__ = ["Dispatcher", "Job"]


class Dispatcher:
    """Feeds jobs from the queue to `handler(job, claim)` with at most `concurrency` running at
    once, each holding the claim on its file."""

    def __init__(
        self,
        handler: Callable[[Job, Claim], Awaitable[None]],
        *,
        concurrency: int,
        capacity: int,
        queue: WorkQueue | None = None,
        claims: Claims | None = None,
        on_backlog_cleared: Callable[[], None] | None = None,
    ) -> None:
        self._handler = handler
        self.capacity = capacity
        self.queue: WorkQueue = queue or LocalQueue()
        self._claims: Claims = claims or LocalClaims()
        self.inflight: dict[str, Job] = {}
        self._again: dict[str, Job] = {}
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
        if job.path in self.inflight:
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
        if job.path in self.queue or job.path in self.inflight:
            return
        self.queue.requeue(job)
        self._idle.clear()
        self._has_work.set()

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
        return jobs

    async def wait_idle(self) -> None:
        """Until nothing is queued or in flight."""
        while self.queue or self.inflight:
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
        if self.inflight and grace > 0 and not (cut_short is not None and cut_short.is_set()):
            waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._wait_inflight())]
            if cut_short is not None:
                waits.append(asyncio.ensure_future(cut_short.wait()))
            try:
                await asyncio.wait(waits, timeout=grace, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
                await asyncio.gather(*waits, return_exceptions=True)
        if self.inflight:
            cut = list(self.inflight.values())
        for t in self._workers:
            t.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        return cut

    async def _wait_inflight(self) -> None:
        while self.inflight:
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
            job = self.queue.take()
            if job is None:
                self._has_work.clear()
                self._signal()
                await self._has_work.wait()
                continue
            self.inflight[job.path] = job
            self._signal()
            claim = await self._claims.claim(job.path)
            if claim is None:  # another worker holds it: that one records its outcome
                self.inflight.pop(job.path, None)
                self._signal()
                continue
            try:
                await self._handler(job, claim)
            finally:
                await claim.release()
                self.inflight.pop(job.path, None)
                again = self._again.pop(job.path, None)
                if again is not None and not self._closed:
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
        if not self.queue and not self.inflight:
            self._idle.set()
