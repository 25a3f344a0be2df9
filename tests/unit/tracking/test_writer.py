"""The group-committing writer thread, with a real store and a real thread."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import threading
import time
from typing import Any

import pytest

from obtui.tracking.records import ManifestStatus
from obtui.tracking.sqlite_store import SQLiteStore
from obtui.tracking.writer import RecordWriter, WriterClosedError
from tests.unit.tracking.test_store import T0, entry, error, iso, success


async def until(cond: Any, timeout: float = 10.0, what: str = "") -> None:
    """Yield to the loop until `cond()` holds (a condition with a deadline, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await asyncio.sleep(0.005)


class GatedStore:
    """A real store whose first `commit_batch` waits for `release`, so that work piles up behind it."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.entered = threading.Event()
        self.release = threading.Event()
        self.batch_sizes: list[int] = []
        self.threads: set[int] = set()
        self.fail_with: BaseException | None = None

    def commit_batch(self, items):  # type: ignore[no-untyped-def]
        self.threads.add(threading.get_ident())
        self.entered.set()
        assert self.release.wait(30)
        self.batch_sizes.append(len(items))
        if self.fail_with is not None:
            raise self.fail_with
        return self.store.commit_batch(items)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


async def test_commit_returns_the_record_with_its_id(store):
    w = RecordWriter(store)
    w.start()
    saved = await w.commit(success(iso(T0)), entry("/in/a.txt"))
    assert saved.record_id == "SUCCESS-2026-02-18-040000-001"
    err = await w.commit(error(iso(T0)))
    assert err.error_id == "ERR-2026-02-18-040000-001"
    await w.close()
    assert store.manifest_get("/in/a.txt").record_id == saved.record_id


async def test_queued_records_are_group_committed_on_one_thread(store):
    gated = GatedStore(store)
    w = RecordWriter(gated)  # type: ignore[arg-type]
    first = asyncio.create_task(w.commit(success(iso(T0), "/in/first"), entry("/in/first")))
    await until(gated.entered.is_set, what="first batch started")
    ticks = 0
    rest = [
        asyncio.create_task(w.commit(success(iso(T0), f"/in/{i}"), entry(f"/in/{i}"))) for i in range(200)
    ]
    while w.pending() < 200:  # the loop keeps running while the writer is stuck in SQLite
        ticks += 1
        await asyncio.sleep(0)
    assert ticks > 0 and not first.done()
    gated.release.set()
    saved = await asyncio.gather(first, *rest)
    assert gated.batch_sizes == [1, 200]
    assert w.batches == 2 and w.committed == 201
    assert len({r.record_id for r in saved}) == 201
    assert gated.threads != {threading.get_ident()} and len(gated.threads) == 1
    await w.close()


async def test_store_failures_reach_the_caller_and_the_writer_goes_on(store):
    gated = GatedStore(store)
    gated.release.set()
    gated.fail_with = sqlite3.OperationalError("database or disk is full")
    w = RecordWriter(gated)  # type: ignore[arg-type]
    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        await w.commit(success(iso(T0)), entry("/in/a"))
    gated.fail_with = None
    assert (await w.commit(success(iso(T0)), entry("/in/a"))).record_id
    await w.close()


async def test_one_bad_record_does_not_fail_its_batch(store):
    gated = GatedStore(store)
    w = RecordWriter(gated)  # type: ignore[arg-type]
    blocker = asyncio.create_task(w.commit(success(iso(T0), "/in/0"), entry("/in/0")))
    await until(gated.entered.is_set)
    bad_entry = dataclasses.replace(entry("/in/bad"), sha256=None)
    tasks = [
        asyncio.create_task(w.commit(success(iso(T0), "/in/1"), entry("/in/1"))),
        asyncio.create_task(w.commit(success(iso(T0), "/in/bad"), bad_entry)),
        asyncio.create_task(w.commit(error(iso(T0), "/in/2"), entry("/in/2", ManifestStatus.FAILED))),
    ]
    await until(lambda: w.pending() == 3)
    gated.release.set()
    results = await asyncio.gather(blocker, *tasks, return_exceptions=True)
    assert isinstance(results[2], sqlite3.IntegrityError)
    assert results[1].record_id and results[3].error_id
    assert store.counts()["successes"] == 2 and store.report().total_failed == 1
    await w.close()


async def test_calls_run_in_queue_order_and_return_values(store):
    w = RecordWriter(store)
    commit = asyncio.create_task(
        w.commit(success(iso(T0), "/in/a"), entry("/in/a", ManifestStatus.POST_PENDING))
    )
    status = asyncio.create_task(w.call(store.set_manifest_status, "/in/a", ManifestStatus.CONSUMED))
    await asyncio.gather(commit, status)
    assert store.manifest_get("/in/a").status == ManifestStatus.CONSUMED
    assert await w.call(lambda x: x * 2, 21) == 42

    def boom() -> None:
        raise ValueError("nope")

    with pytest.raises(ValueError, match="nope"):
        await w.call(boom)
    await w.close()


async def test_close_flushes_everything_queued_then_refuses(store):
    gated = GatedStore(store)
    w = RecordWriter(gated)  # type: ignore[arg-type]
    tasks = [
        asyncio.create_task(w.commit(success(iso(T0), f"/in/{i}"), entry(f"/in/{i}"))) for i in range(50)
    ]
    await until(gated.entered.is_set)
    closing = asyncio.create_task(w.close())
    await until(lambda: w._closing, what="close() under way")
    gated.release.set()
    await closing
    assert all(t.done() and t.result().record_id for t in tasks)
    assert store.counts()["successes"] == 50
    with pytest.raises(WriterClosedError):
        await w.commit(success(iso(T0)), entry("/in/late"))
    await w.close()  # twice is fine


async def test_a_cancelled_waiter_does_not_break_the_writer(store):
    gated = GatedStore(store)
    w = RecordWriter(gated)  # type: ignore[arg-type]
    t = asyncio.create_task(w.commit(success(iso(T0), "/in/c"), entry("/in/c")))
    await until(gated.entered.is_set)
    t.cancel()
    gated.release.set()
    with pytest.raises(asyncio.CancelledError):
        await t
    assert (await w.commit(success(iso(T0), "/in/d"), entry("/in/d"))).record_id.endswith("-002")
    await w.close()
    assert store.counts()["successes"] == 2  # the cancelled caller's record was still committed
