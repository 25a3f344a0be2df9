"""The Redis versions of the engine's three seams (`obtui.engine.seams`), selected by the
engine's composition root when `[cluster]` is set:

- `ClusterQueue` (WorkQueue): `submit` hashes a ready file and enqueues it in Redis (once,
  cluster-wide); the local part holds only the files Redis handed to this host.
- `ClusterClaims` / `ClusterClaim` (Claims / Claim): the claim is this host's entry in the
  consumer group's pending list; `claim()` runs the fenced BEGIN, `lost` turns true when a
  renewal finds another host owns it.
- `ClusterLedger` (OutcomeLedger): a final outcome is first committed in Redis by the fenced
  FINISH script, and only then in the local SQLite journal; a refused finish records nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from obtui.cluster.protocol import Delivery
from obtui.engine.jobs import Job
from obtui.engine.seams import Claim, Finished, LocalClaims, Outcome, OutcomeLedger
from obtui.tracking.records import ManifestEntry, ManifestStatus, SuccessRecord

if TYPE_CHECKING:
    from obtui.cluster.node import ClusterNode

log = logging.getLogger("obtui.cluster")


@dataclass(eq=False)
class Held:
    """A stream entry this host holds (its lease), from delivery to finish."""

    delivery: Delivery
    job: Job
    lost: bool = False
    begun: bool = False
    finished: bool = False


class ClusterQueue:
    """WorkQueue: `submit` goes to Redis (via the node's enqueue task); `take` hands out what
    Redis gave this host; `requeue` puts back a job this host still holds (retry, breaker)."""

    def __init__(self, node: ClusterNode) -> None:
        self._node = node
        self._order: deque[str] = deque()
        self._jobs: dict[str, Job] = {}

    def submit(self, job: Job) -> bool:
        return self._node.to_enqueue(job)

    def requeue(self, job: Job) -> bool:
        held = self._node.held_for(job.path)
        if (held is None or held.job is not job) and job.reason != "resume":
            # Not the job Redis handed us (e.g. the file changed while it ran): Redis decides.
            return self._node.to_enqueue(job)
        if job.path in self._jobs:
            return False
        self._jobs[job.path] = job
        self._order.append(job.path)
        return True

    def hand_out(self, job: Job) -> None:
        """A job Redis handed to this host or a crash left pending here (local only)."""
        self._jobs[job.path] = job
        self._order.append(job.path)

    def take(self) -> Job | None:
        while self._order:
            job = self._jobs.pop(self._order.popleft(), None)
            if job is not None:
                return job
        return None

    def drop(self, path: str) -> None:
        self._jobs.pop(path, None)

    def __len__(self) -> int:
        return len(self._jobs) + self._node.enqueue_backlog()

    def __bool__(self) -> bool:
        # Always true: the dispatcher picks its queue with `queue or LocalQueue()`, and an
        # empty queue must not be swapped for a local one.
        return True

    def __contains__(self, path: object) -> bool:
        # Only what waits here to run: a path still being hashed for Redis must not stop the
        # delivery Redis hands back for it (the enqueue task de-duplicates by path anyway).
        return path in self._jobs

    def __iter__(self) -> Iterator[Job]:
        return iter(list(self._jobs.values()))


class ClusterClaim:
    """Claim: this host's pending-list entry for one file version."""

    def __init__(self, node: ClusterNode, held: Held) -> None:
        self._node = node
        self.held = held

    @property
    def key(self) -> str:
        return self.held.job.path

    @property
    def lost(self) -> bool:
        return self.held.lost

    async def renew(self) -> bool:
        return await self._node.renew_one(self.held)

    async def release(self) -> None:
        try:
            await self._node.release(self.held)
        except Exception:  # never take the dispatcher's worker down with it
            log.exception("cluster: cannot release %s; another host takes it after the lease", self.key)
            self._node.drop(self.held)


class ClusterClaims:
    """Claims: a job Redis handed to this host gets the fenced BEGIN; a local-only job (a
    post-action left pending by a crash) gets an in-process claim."""

    def __init__(self, node: ClusterNode) -> None:
        self._node = node
        self._local = LocalClaims()

    async def claim(self, key: str) -> Claim | None:
        held = self._node.held_for(key)
        if held is None:
            return await self._local.claim(key)
        try:
            if await self._node.begin(held):
                return ClusterClaim(self._node, held)
        except Exception:  # a Redis error other than a lost connection: leave it to the lease
            log.exception("cluster: cannot begin %s; another host takes it after the lease", key)
            self._node.drop(held)
        return None


class ClusterLedger:
    """OutcomeLedger: Redis first (fenced FINISH), then the local journal."""

    def __init__(self, node: ClusterNode, local: OutcomeLedger) -> None:
        self._node = node
        self._local = local

    def lookup(self, path: str) -> ManifestEntry | None:
        return self._local.lookup(path)

    def lookup_many(self, paths: list[str]) -> dict[str, ManifestEntry]:
        return self._local.lookup_many(paths)

    def unfinished(self) -> list[ManifestEntry]:
        return self._local.unfinished()

    async def finish(
        self, record: Outcome, entry: ManifestEntry | None = None, claim: Claim | None = None
    ) -> Finished:
        if entry is None or not isinstance(claim, ClusterClaim):
            # A note on the way (breaker open, a warning) or a local-only job: journal only.
            return await self._local.finish(record, entry, claim)
        state = "ok" if isinstance(record, SuccessRecord) else "error"
        refused = await self._node.finish(claim.held, state, outcome_doc(record))
        if refused:
            return Finished(None, refused=refused)
        return await self._local.finish(record, entry, None)

    async def finish_many(
        self, items: Sequence[tuple[Outcome, ManifestEntry | None, Claim | None]]
    ) -> list[Finished]:
        """Each outcome fenced in Redis on its own (concurrently), then the accepted ones
        journalled locally in one transaction; answers in order."""
        answers: list[Finished | None] = [None] * len(items)
        fenced = [
            i
            for i, (_, entry, claim) in enumerate(items)
            if entry is not None and isinstance(claim, ClusterClaim)
        ]

        async def fence(i: int) -> None:
            record, _, claim = items[i]
            assert isinstance(claim, ClusterClaim)
            state = "ok" if isinstance(record, SuccessRecord) else "error"
            refused = await self._node.finish(claim.held, state, outcome_doc(record))
            if refused:
                answers[i] = Finished(None, refused=refused)

        await asyncio.gather(*(fence(i) for i in fenced))
        keep = [i for i in range(len(items)) if answers[i] is None]
        saved = await self._local.finish_many([(items[i][0], items[i][1], None) for i in keep])
        for i, fin in zip(keep, saved, strict=True):
            answers[i] = fin
        return [a for a in answers if a is not None]

    async def mark(self, path: str, status: ManifestStatus, moved_to: str | None = None) -> None:
        await self._local.mark(path, status, moved_to)


def outcome_doc(record: Outcome) -> dict[str, Any]:
    """What the cluster keeps of an outcome (for `--report --cluster`, `--errors --cluster`)."""
    if isinstance(record, SuccessRecord):
        return {
            "rule": record.rule,
            "dur_ms": round(record.duration_ms, 3),
            "bytes": record.bytes_processed,
            "output": record.output_path,
            "path": record.file_path,
        }
    return {
        "rule": record.rule,
        "category": str(record.category),
        "name": record.name,
        "code": record.code,
        "message": record.message,
        "path": record.file_path,
    }


def still_wanted(processor: Any) -> Callable[[str], bool]:
    """True while the processor keeps a job for later (retry backoff, open breaker)."""

    def wanted(path: str) -> bool:
        if path in processor.retrying:
            return True
        return any(j.path == path for b in processor.breakers.values() for j in b.waiting)

    return wanted


def cancelling() -> bool:
    """True inside a task being cancelled (a dispatcher worker cut off at shutdown)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
