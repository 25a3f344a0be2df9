"""The batched pipeline: a worker takes a deep queue's jobs in batches (a single drop stays a
batch of one), never waits for its batch's tail (the record's commit, the post-action) before
taking the next, and keeps the paths busy and claimed until that tail is done; the ledger
records a batch in one transaction with one answer per outcome."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable
from pathlib import Path

from obtui.config.model import BucketConfig, Config, RuleConfig
from obtui.engine.jobs import Job
from obtui.engine.pipeline.breaker import CircuitBreaker
from obtui.engine.pipeline.dispatcher import Dispatcher
from obtui.engine.pipeline.patterns import Matcher
from obtui.engine.pipeline.work import Admitted, Pace, run_batch, unrun
from obtui.engine.seams import Claim, LocalClaims, LocalLedger
from obtui.tracking.records import ManifestStatus, SuccessRecord
from obtui.tracking.sqlite_store import SQLiteStore
from obtui.tracking.writer import RecordWriter
from tests.unit.tracking.test_store import T0, entry, iso, success


def job(path: str) -> Job:
    return Job(path, "/in", path.rsplit("/", 1)[-1], "scan")


async def until(cond, what: str, seconds: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + seconds
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


async def test_a_deep_queue_is_taken_in_batches_and_a_single_drop_alone() -> None:
    batches: list[list[str]] = []

    async def handler(items: list[tuple[Job, Claim]]) -> None:
        batches.append([j.path for j, _ in items])

    d = Dispatcher(batch_handler=handler, concurrency=1, capacity=100, max_batch=8)
    d.pause()
    d.start()
    try:
        for i in range(20):
            assert d.submit(job(f"/in/{i:02d}"))
        d.resume()
        await asyncio.wait_for(d.wait_idle(), 10)
        assert [len(b) for b in batches] == [8, 8, 4], "at most max_batch a hop, in queue order"
        assert sum(batches, []) == [f"/in/{i:02d}" for i in range(20)]
        batches.clear()
        assert d.submit(job("/in/alone"))
        await asyncio.wait_for(d.wait_idle(), 10)
        assert batches == [["/in/alone"]], "a single drop does not wait for company"
    finally:
        await d.close(0)


async def test_a_batch_ends_at_the_first_job_that_is_not_batchable() -> None:
    batches: list[list[str]] = []

    async def handler(items: list[tuple[Job, Claim]]) -> None:
        batches.append([j.path.rsplit("/", 1)[-1] for j, _ in items])

    # Notes batch; commands ("c*") go one a hop, and end the batch they are taken into.
    d = Dispatcher(
        batch_handler=handler,
        concurrency=1,
        capacity=100,
        batchable=lambda j: not j.rel.startswith("c"),
    )
    d.pause()
    d.start()
    try:
        for name in ["n1", "n2", "c1", "c2", "n3", "n4"]:
            assert d.submit(job(f"/in/{name}"))
        d.resume()
        await asyncio.wait_for(d.wait_idle(), 10)
        assert batches == [["n1", "n2", "c1"], ["c2"], ["n3", "n4"]]
    finally:
        await d.close(0)


async def test_the_worker_moves_on_while_the_tail_holds_the_claim() -> None:
    claims = LocalClaims()
    commit = asyncio.Event()
    handled: list[str] = []

    async def tail() -> None:
        await commit.wait()  # the record's commit, not yet done

    async def handler(items: list[tuple[Job, Claim]]) -> Awaitable[None] | None:
        handled.extend(j.path for j, _ in items)
        return tail() if items[0][0].path == "/in/a" else None

    d = Dispatcher(batch_handler=handler, concurrency=1, capacity=10, claims=claims)
    d.start()
    try:
        assert d.submit(job("/in/a"))
        await until(lambda: "/in/a" in d.finishing, "a's tail")
        assert d.submit(job("/in/b"))
        await until(lambda: "/in/b" in handled, "the next file while a's commit is pending")
        assert "/in/a" in claims and d.busy("/in/a"), "a stays claimed and busy until its tail ends"
        assert d.submit(job("/in/a")) and handled.count("/in/a") == 1, "a is not run again meanwhile"
        commit.set()
        await asyncio.wait_for(d.wait_idle(), 10)
        assert "/in/a" not in claims and not d.finishing
        assert handled.count("/in/a") == 2, "a newer version that came meanwhile runs afterwards"
    finally:
        await d.close(0)


async def test_a_job_put_back_while_its_path_is_finishing_runs_once_it_is_done() -> None:
    commit = asyncio.Event()
    handled: list[tuple[str, int]] = []

    async def tail() -> None:
        await commit.wait()

    async def handler(items: list[tuple[Job, Claim]]) -> Awaitable[None] | None:
        handled.extend((j.path, j.attempt) for j, _ in items)
        return tail() if len(handled) == 1 else None

    d = Dispatcher(batch_handler=handler, concurrency=1, capacity=10)
    d.start()
    try:
        first = job("/in/a")
        assert d.submit(first)
        await until(lambda: "/in/a" in d.finishing, "a's tail")
        retry = job("/in/a")
        retry.attempt = 2
        d.requeue_front(retry)  # a retry or breaker trial whose timer fired meanwhile
        commit.set()
        await asyncio.wait_for(d.wait_idle(), 10)
        assert handled == [("/in/a", 1), ("/in/a", 2)], "put back, not dropped, with its attempt count"
    finally:
        await d.close(0)


async def test_ledger_finish_many_commits_a_batch_in_one_transaction(tmp_path) -> None:
    store = SQLiteStore(tmp_path / "state")
    writer = RecordWriter(store)
    ledger = LocalLedger(store, writer)
    try:
        claims = LocalClaims()
        items = []
        for i in range(5):
            path = f"/in/{i}.txt"
            items.append(
                (success(iso(T0), path=path), entry(path, ManifestStatus.DONE), await claims.claim(path))
            )
        before = writer.batches
        finished = await ledger.finish_many(items)
        assert writer.batches == before + 1, "one transaction for the batch"
        assert [f.ok for f in finished] == [True] * 5
        saved = [f.record for f in finished]
        assert all(isinstance(r, SuccessRecord) and r.record_id for r in saved)
        assert [r.file_path for r in saved if r] == [f"/in/{i}.txt" for i in range(5)], "answers in order"
        assert len({r.record_id for r in saved if r}) == 5
        assert all(ledger.lookup(f"/in/{i}.txt") is not None for i in range(5))
        assert await ledger.finish_many([]) == []
    finally:
        await writer.close()
        store.close()


def _matcher(bucket: Path, out: Path) -> Matcher:
    rules = (
        RuleConfig(name="notes", patterns=("*.txt",), output_dir=str(out)),
        RuleConfig(name="cp", patterns=("*.bin",), action="command", command=("cp", "{path}", str(out))),
    )
    return Matcher(Config(buckets=(BucketConfig(path=bucket),), rules=rules))


def test_only_notes_and_quick_commands_are_batched(tmp_path: Path) -> None:
    m = _matcher(tmp_path, tmp_path / "out")
    pace = Pace()
    note, cmd = (
        Job(str(tmp_path / "a.txt"), str(tmp_path), "a.txt", "scan"),
        Job(str(tmp_path / "b.bin"), str(tmp_path), "b.bin", "scan"),
    )
    assert pace.batchable(m, note)
    assert not pace.batchable(m, cmd), "a program not yet timed goes alone"
    pace.ran("cp", 3.0)
    assert pace.batchable(m, cmd), "a quick program may share a hop"
    for _ in range(10):
        pace.ran("cp", 5_000.0)
    assert not pace.batchable(m, cmd), "a slow one never holds the claims of files behind it"
    folder = Job(str(tmp_path / "d"), str(tmp_path), "d", "scan", is_dir=True)
    assert not pace.batchable(m, folder)


def test_a_batch_out_of_time_hands_the_rest_back_and_frees_a_pending_trial(tmp_path: Path) -> None:
    bucket, out = tmp_path / "bucket", tmp_path / "out"
    bucket.mkdir()
    m = _matcher(bucket, out)
    store = SQLiteStore(tmp_path / "state")
    ledger = LocalLedger(store, RecordWriter(store))
    items = []
    for i in range(3):
        (bucket / f"{i}.txt").write_text(f"file {i}\n")
        j = Job(str(bucket / f"{i}.txt"), str(bucket), f"{i}.txt", "scan")
        match = m.match(j.bucket, j.rel)
        assert match is not None
        items.append(Admitted(j, None, match, CircuitBreaker("notes", 3, 30.0)))
    try:
        done = run_batch(items, ledger, 1 << 20, threading.Event(), budget=0.0)
        assert len(done) == 1 and done[0].error is None and done[0].result is not None, "one at least"
        trial = items[2].breaker
        trial.state, trial.trial_running = "half-open", True  # it was let through as the trial
        back = unrun(items[1:])
        assert [j.path for j, _ in back] == [items[1].job.path, items[2].job.path]
        assert not trial.trial_running and trial.allow(), "the trial that did not run frees its slot"
    finally:
        store.close()
