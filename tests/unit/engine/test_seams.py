"""The engine's seams and their local implementations: the work queue, the claim on a file and the
outcome ledger (a real SQLite store behind the real writer thread), and the dispatcher holding a
claim while it runs a job."""

from __future__ import annotations

import asyncio

from obtui.engine.jobs import Job
from obtui.engine.pipeline.dispatcher import Dispatcher
from obtui.engine.seams import (
    Claim,
    Claims,
    LocalClaims,
    LocalLedger,
    LocalQueue,
    OutcomeLedger,
    WorkQueue,
)
from obtui.tracking.records import ErrorRecord, ManifestStatus, SuccessRecord
from obtui.tracking.sqlite_store import SQLiteStore
from obtui.tracking.writer import RecordWriter
from tests.unit.tracking.test_store import T0, entry, error, iso, success


def job(path: str) -> Job:
    return Job(path, "/in", path.rsplit("/", 1)[-1], "scan")


def test_local_queue_keeps_one_job_per_path_in_order() -> None:
    q: WorkQueue = LocalQueue()
    assert q.submit(job("/in/a")) and q.submit(job("/in/b"))
    assert not q.submit(job("/in/a")), "a path already queued is not queued twice"
    assert len(q) == 2 and "/in/a" in q
    assert [j.path for j in q] == ["/in/a", "/in/b"]
    first = q.take()
    assert first is not None and first.path == "/in/a"
    assert q.requeue(first)
    assert [j.path for j in iter(lambda: q.take(), None)] == ["/in/b", "/in/a"]
    assert q.take() is None and len(q) == 0


async def test_local_claim_is_exclusive_until_released_and_never_lost() -> None:
    claims: Claims = LocalClaims()
    c = await claims.claim("/in/a")
    assert c is not None and c.key == "/in/a"
    assert await claims.claim("/in/a") is None, "a second worker must not get the same file"
    assert await claims.claim("/in/b") is not None
    assert not c.lost and await c.renew()
    await c.release()
    assert await claims.claim("/in/a") is not None


async def test_local_ledger_records_outcomes_and_answers_already_done(tmp_path) -> None:
    store = SQLiteStore(tmp_path / "state")
    writer = RecordWriter(store)
    ledger: OutcomeLedger = LocalLedger(store, writer)
    try:
        claim = await LocalClaims().claim("/in/a.txt")
        assert ledger.lookup("/in/a.txt") is None
        done = await ledger.finish(
            success(iso(T0), "/in/a.txt"), entry("/in/a.txt", ManifestStatus.POST_PENDING), claim
        )
        assert done.ok and done.refused is None
        assert isinstance(done.record, SuccessRecord) and done.record.record_id
        found = ledger.lookup("/in/a.txt")
        assert found is not None and found.status == ManifestStatus.POST_PENDING
        assert [e.path for e in ledger.unfinished()] == ["/in/a.txt"]
        await ledger.mark("/in/a.txt", ManifestStatus.CONSUMED)
        assert ledger.unfinished() == []
        assert ledger.lookup_many(["/in/a.txt", "/in/none"]).keys() == {"/in/a.txt"}
        failed = await ledger.finish(error(iso(T0)))
        assert failed.ok and isinstance(failed.record, ErrorRecord) and failed.record.error_id
    finally:
        await writer.close()
        store.close()


async def test_dispatcher_holds_the_claim_while_the_job_runs() -> None:
    claims = LocalClaims()
    seen: list[tuple[str, bool]] = []
    gate = asyncio.Event()

    async def handler(j: Job, claim: Claim) -> None:
        seen.append((claim.key, j.path in claims))
        await gate.wait()

    d = Dispatcher(handler, concurrency=2, capacity=10, claims=claims)
    d.start()
    try:
        assert d.submit(job("/in/a"))
        deadline = asyncio.get_running_loop().time() + 10
        while not seen:
            assert asyncio.get_running_loop().time() < deadline, "the job never ran"
            await asyncio.sleep(0.005)
        assert seen == [("/in/a", True)]
        gate.set()
        await asyncio.wait_for(d.wait_idle(), 10)
        assert "/in/a" not in claims, "the claim is released once the job is done"
    finally:
        await d.close(0)
