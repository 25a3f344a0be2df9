"""The engine's seams: the work queue, the claim on a file and the outcome ledger, as small typed
interfaces, each with the one local implementation single-host mode uses.

A multi-host mode replaces these three and nothing else, so they are written for it:
- a claim can be lost (another host took the file over after this one stalled): `Claim.lost`,
  and `renew()` says whether it still holds;
- a finish can be refused (the claim was lost before the outcome was recorded): the ledger
  returns `Finished(refused=...)` and the processor then leaves the file alone (no hooks, no
  post-action), because another worker owns its outcome now.
Locally a claim is never lost and a finish is never refused.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from obtui.engine.jobs import Job
from obtui.tracking.interfaces import RecordStore
from obtui.tracking.records import ErrorRecord, ManifestEntry, ManifestStatus, SuccessRecord
from obtui.tracking.writer import RecordWriter

Outcome = SuccessRecord | ErrorRecord

# ---- the work queue ------------------------------------------------------------------------------


class WorkQueue(Protocol):
    """Jobs ready to run, one per path, taken in order. Never blocks; capacity, backlog and
    workers are the dispatcher's business."""

    def submit(self, job: Job) -> bool:
        """Add a job. False when a job for that path is queued already (it is not added twice)."""
        ...

    def take(self) -> Job | None:
        """The next job, or None when the queue is empty."""
        ...

    def requeue(self, job: Job) -> bool:
        """Put back a job taken earlier (retry, breaker trial, resume). False when already queued."""
        ...

    def __len__(self) -> int: ...

    def __contains__(self, path: object) -> bool: ...

    def __iter__(self) -> Iterator[Job]:
        """The queued jobs in order (a copy: for the snapshot)."""
        ...


class LocalQueue:
    """In-process FIFO keyed by path."""

    def __init__(self) -> None:
        self._order: deque[str] = deque()
        self._jobs: dict[str, Job] = {}

    def submit(self, job: Job) -> bool:
        if job.path in self._jobs:
            return False
        self._jobs[job.path] = job
        self._order.append(job.path)
        return True

    requeue = submit  # locally a job put back waits its turn like any other

    def take(self) -> Job | None:
        while self._order:
            job = self._jobs.pop(self._order.popleft(), None)
            if job is not None:
                return job
        return None

    def __len__(self) -> int:
        return len(self._jobs)

    def __contains__(self, path: object) -> bool:
        return path in self._jobs

    def __iter__(self) -> Iterator[Job]:
        return iter(list(self._jobs.values()))


# ---- the claim on a file -------------------------------------------------------------------------


class Claim(Protocol):
    """The right of one worker to process one file. Held from `take` until the outcome is on
    record; a remote implementation expires it unless renewed, so it can be lost."""

    @property
    def key(self) -> str: ...

    @property
    def lost(self) -> bool:
        """True once another worker may have taken the file over."""
        ...

    async def renew(self) -> bool:
        """Extend the claim (long actions call it); False when it was lost meanwhile."""
        ...

    async def release(self) -> None:
        """Give the claim up (after the outcome is recorded, or when giving up the file)."""
        ...


class Claims(Protocol):
    """Where claims are taken."""

    async def claim(self, key: str) -> Claim | None:
        """Claim `key` (a file's absolute path). None when another worker holds it."""
        ...


class LocalClaim:
    """A claim in the in-process set; never lost."""

    def __init__(self, owner: LocalClaims, key: str) -> None:
        self._owner = owner
        self._key = key

    @property
    def key(self) -> str:
        return self._key

    @property
    def lost(self) -> bool:
        return False

    async def renew(self) -> bool:
        return True

    async def release(self) -> None:
        self._owner.drop(self._key)


class LocalClaims:
    """The in-process claim set: one worker per path, guarded by the engine loop."""

    def __init__(self) -> None:
        self._held: set[str] = set()

    async def claim(self, key: str) -> LocalClaim | None:
        if key in self._held:
            return None
        self._held.add(key)
        return LocalClaim(self, key)

    def drop(self, key: str) -> None:
        self._held.discard(key)

    def __contains__(self, key: object) -> bool:
        return key in self._held


# ---- the outcome ledger --------------------------------------------------------------------------


@dataclass(frozen=True)
class Finished:
    """What the ledger did with an outcome: `record` as stored (with its id), or `refused` with
    the reason it was not stored (the claim was lost; another worker owns the file now)."""

    record: Outcome | None
    refused: str | None = None

    @property
    def ok(self) -> bool:
        return self.refused is None


class OutcomeLedger(Protocol):
    """Every outcome on record, and the manifest that answers "already done?".

    The look-ups block (call them from a thread: the processor does its whole file step in one);
    `finish` and `mark` are awaited on the engine loop. Store failures (disk full, a locked
    database) raise; a refusal is not a failure and comes back as `Finished(refused=...)`."""

    def lookup(self, path: str) -> ManifestEntry | None:
        """The manifest entry for `path` (what was done with which content), if any."""
        ...

    def lookup_many(self, paths: list[str]) -> dict[str, ManifestEntry]:
        """`lookup` for a batch (reconciliation scans)."""
        ...

    def unfinished(self) -> list[ManifestEntry]:
        """Entries whose post-action (move/delete) is still to be carried out."""
        ...

    async def finish(
        self, record: Outcome, entry: ManifestEntry | None = None, claim: Claim | None = None
    ) -> Finished:
        """Record an outcome (and the manifest entry) in one transaction, fenced by `claim`."""
        ...

    async def finish_many(
        self, items: Sequence[tuple[Outcome, ManifestEntry | None, Claim | None]]
    ) -> list[Finished]:
        """`finish` for a batch (a burst's outcomes): one answer per item, in order. An
        implementation may commit them in one transaction; each is fenced by its own claim."""
        ...

    async def mark(self, path: str, status: ManifestStatus, moved_to: str | None = None) -> None:
        """Set a manifest entry's status (e.g. consumed after its post-action) and where a move
        put the file (so `--retry` can bring it back)."""
        ...


class LocalLedger:
    """The SQLite store behind the group-committing writer thread."""

    def __init__(self, store: RecordStore, writer: RecordWriter) -> None:
        self._store = store
        self._writer = writer

    def lookup(self, path: str) -> ManifestEntry | None:
        return self._store.manifest_get(path)

    def lookup_many(self, paths: list[str]) -> dict[str, ManifestEntry]:
        return self._store.manifest_get_many(paths)

    def unfinished(self) -> list[ManifestEntry]:
        return self._store.manifest_pending()

    async def finish(
        self, record: Outcome, entry: ManifestEntry | None = None, claim: Claim | None = None
    ) -> Finished:
        # A local claim is never lost, so nothing is ever refused here.
        return Finished(await self._writer.commit(record, entry))

    async def finish_many(
        self, items: Sequence[tuple[Outcome, ManifestEntry | None, Claim | None]]
    ) -> list[Finished]:
        saved = await self._writer.commit_many([(record, entry) for record, entry, _ in items])
        return [Finished(rec) for rec in saved]

    async def mark(self, path: str, status: ManifestStatus, moved_to: str | None = None) -> None:
        await self._writer.call(self._store.set_manifest_status, path, status, moved_to)
