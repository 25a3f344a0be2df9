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
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from obtui.cluster import keys
from obtui.cluster.protocol import DOWN, Delivery
from obtui.engine.jobs import Job
from obtui.engine.seams import Claim, Finished, LocalClaims, Outcome, OutcomeLedger
from obtui.tracking.records import ManifestEntry, ManifestStatus, SuccessRecord

if TYPE_CHECKING:
    from obtui.cluster.node import ClusterNode

log = logging.getLogger("obtui.cluster")
_LOST = "this host lost its lease on the file; the host that took it over records it"


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

    async def claim_many(self, paths: list[str]) -> list[Claim | None]:
        """`claim` for a batch: the fenced BEGINs in one round trip; answers in order."""
        out: list[Claim | None] = [None] * len(paths)
        remote: list[tuple[int, Held]] = []
        for i, key in enumerate(paths):
            held = self._node.held_for(key)
            if held is None:
                out[i] = await self._local.claim(key)
            else:
                remote.append((i, held))
        if remote:
            try:
                go = await begin_many(self._node, [h for _, h in remote])
            except Exception:  # a Redis error other than a lost connection: leave it to the lease
                log.exception(
                    "cluster: cannot begin %d file(s); other hosts take them after the lease", len(remote)
                )
                for _, held in remote:
                    self._node.drop(held)
                return out
            for (i, held), ok in zip(remote, go, strict=True):
                if ok:
                    out[i] = ClusterClaim(self._node, held)
        return out


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
        """The outcomes fenced in Redis in one script (one round trip), each against its own
        lease; then the accepted ones journalled locally in one transaction; answers in order."""
        answers: list[Finished | None] = [None] * len(items)
        fenced = [
            i
            for i, (_, entry, claim) in enumerate(items)
            if entry is not None and isinstance(claim, ClusterClaim)
        ]
        batch = []
        for i in fenced:
            record, _, claim = items[i]
            assert isinstance(claim, ClusterClaim)
            state = "ok" if isinstance(record, SuccessRecord) else "error"
            batch.append((claim.held, state, outcome_doc(record)))
        refusals = await self._node.fence.finish(batch)
        for i, refused in zip(fenced, refusals, strict=True):
            if refused:
                answers[i] = Finished(None, refused=refused)
        keep = [i for i in range(len(items)) if answers[i] is None]
        saved = await self._local.finish_many([(items[i][0], items[i][1], None) for i in keep])
        for i, fin in zip(keep, saved, strict=True):
            answers[i] = fin
        return [a for a in answers if a is not None]

    async def mark(self, path: str, status: ManifestStatus, moved_to: str | None = None) -> None:
        await self._local.mark(path, status, moved_to)


async def begin_many(node: ClusterNode, helds: list[Held]) -> list[bool]:
    """`begin` for a batch, in one round trip per bucket; each entry checked on its own."""
    verdicts = await node._retrying(lambda: node.coord.begin_many([h.delivery for h in helds]))
    for held, verdict in zip(helds, verdicts, strict=True):
        if verdict != "run":
            log.info(
                "cluster: %s %s",
                held.delivery.job_key,
                "already has an outcome" if verdict == "done" else "was taken over by another host",
            )
            node._forget(held)
            continue
        held.begun = True
        held.job.env = {
            "OBTUI_JOB_KEY": held.delivery.job_key,
            "OBTUI_ATTEMPT": str(held.delivery.deliveries),
            "OBTUI_HOST": node.host,
        }
    return [v == "run" for v in verdicts]


async def finish_many(node: ClusterNode, items: list[tuple[Held, str, dict[str, Any]]]) -> list[str | None]:
    """Commit outcomes in Redis, one fenced script per bucket (one round trip), each against
    its own lease. Per outcome: None when committed, else why it was refused."""
    out: list[str | None] = [None] * len(items)
    todo = [i for i, (held, _, _) in enumerate(items) if not held.lost]
    for i in set(range(len(items))) - set(todo):  # a renewal already found it taken over
        log.warning("cluster: late finish of %s refused (lease lost)", items[i][0].delivery.job_key)
        out[i] = _LOST
    if len(todo) < len(items):
        with contextlib.suppress(*DOWN):
            await node.r.hincrby(keys.STATS, "lease_lost", len(items) - len(todo))
    if not todo:
        return out
    batch = [(items[i][0].delivery, items[i][1], items[i][2]) for i in todo]
    results = await node._retrying(lambda: node.coord.finish_many(batch))
    for i, result in zip(todo, results, strict=True):
        held, state, _ = items[i]
        if result == "committed":
            held.finished = True
            node.done += state != "skipped"
            continue
        held.lost = True
        if result == "duplicate":
            out[i] = "another host already recorded an outcome for this file version"
        else:
            log.warning("cluster: late finish of %s refused (lease lost)", held.delivery.job_key)
            out[i] = _LOST
    return out


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


def still_wanted(processor: Any, dispatcher: Any) -> Callable[[str], bool]:
    """True while the file is to run here again: put back to the dispatcher while busy (the
    rest of a batch that ran out of time, a retry), or kept by the processor for later (retry
    backoff, open breaker). Its lease is kept, not settled as skipped."""

    def wanted(path: str) -> bool:
        if dispatcher.coming_back(path) or path in processor.retrying:
            return True
        return any(j.path == path for b in processor.breakers.values() for j in b.waiting)

    return wanted


def cancelling() -> bool:
    """True inside a task being cancelled (a dispatcher worker cut off at shutdown)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
