"""Each protocol script against a real redis-server: dedup, fenced finish, renew, reclaim,
dead-letter and retry from the dead-letter stream."""

from __future__ import annotations

import asyncio
import json

import pytest

from obtui.cluster import keys
from obtui.cluster.protocol import Coordinator, connect, dlq_retry
from tests.cluster.aio import until

B = "inbox"
SHA = "a" * 64


@pytest.fixture
async def hosts(redis_server):
    clients = [connect(redis_server.url) for _ in range(3)]
    coords = [
        Coordinator(c, name, lease_ms=300, max_deliveries=2)
        for c, name in zip(clients, ["alpha", "beta", "gamma"], strict=True)
    ]
    await coords[0].ensure_group(B)
    yield coords
    for c in clients:
        await c.aclose()


async def outcomes(r) -> list[dict]:
    return [json.loads(f["v"]) for _, f in await r.xrange(keys.OUTCOMES)]


async def test_enqueue_is_once_per_file_version_even_when_hosts_race(hosts):
    a, b, c = hosts
    results = await asyncio.gather(*(h.enqueue(B, "x.txt", SHA, 3) for h in (a, b, c) for _ in range(20)))
    assert sum(1 for r in results if r) == 1
    assert await a.r.xlen(keys.jobs(B)) == 1
    assert await a.enqueue(B, "x.txt", "b" * 64, 4) is not None  # new content: a new version
    assert await a.enqueue(B, "y.txt", SHA, 3) is not None  # same content elsewhere: another file
    assert await a.r.hget(keys.STATS, "enqueued") == "3"


async def test_a_rescan_can_skip_hashing_what_any_host_queued(hosts):
    a, b, _ = hosts
    seen = keys.stat_field("x.txt", 3, 1_700_000_000_000_000_000)
    assert await b.known_stats(B, [seen]) == [False]
    await a.enqueue(B, "x.txt", SHA, 3, stat_field=seen)
    touched = keys.stat_field("x.txt", 3, 1_700_000_000_000_000_001)  # same name, new mtime
    assert await b.known_stats(B, [seen, touched]) == [True, False]


async def test_take_begin_finish_records_one_outcome_and_cleans_the_stream(hosts):
    a, b, _ = hosts
    await a.enqueue(B, "x.txt", SHA, 3)
    [d] = await b.take([B], 10, 100)
    assert await b.begin(d) == "run" and d.deliveries == 1
    assert await b.finish(d, "ok", {"rule": "notes"}) == "committed"
    assert await b.finish(d, "ok", {"rule": "notes"}) == "committed"  # a retried finish: same token
    state = json.loads(await a.r.hget(keys.files(B), d.field))
    assert (state["state"], state["host"], state["rule"]) == ("ok", "beta", "notes")
    assert await a.r.xlen(keys.jobs(B)) == 0
    assert (await a.r.xpending(keys.jobs(B), keys.GROUP))["pending"] == 0
    assert len(await outcomes(a.r)) == 1
    assert await a.enqueue(B, "x.txt", SHA, 3) is None  # done for good


async def test_finish_is_refused_after_the_lease_was_lost(hosts):
    a, b, _ = hosts
    await a.enqueue(B, "x.txt", SHA, 3)
    [d] = await a.take([B], 10, 100)
    assert await a.begin(d) == "run"
    # alpha stops renewing (paused, cut off): after the lease beta takes the file over.
    taken = await until(lambda: _reclaimed(b), what="beta reclaims after the lease")
    [d2] = taken
    assert d2.stream_id == d.stream_id and d2.deliveries == 2
    assert await a.finish(d, "ok", {}) == "refused"
    assert await a.renew(B, [d.stream_id]) == [d.stream_id]
    assert await b.begin(d2) == "run"
    assert await b.finish(d2, "ok", {}) == "committed"
    assert [o["host"] for o in await outcomes(a.r)] == ["beta"]
    assert await a.r.hget(keys.STATS, "lease_lost") == "1"


async def _reclaimed(coord):
    runnable, _ = await coord.reclaim(B)
    return runnable


async def test_renewed_lease_is_never_reclaimed_and_keeps_its_delivery_count(hosts):
    a, b, _ = hosts
    await a.enqueue(B, "x.txt", SHA, 3)
    [d] = await a.take([B], 10, 100)
    for _ in range(10):  # 1 s, over three leases, renewing every 100 ms
        assert await a.renew(B, [d.stream_id]) == []
        assert (await b.reclaim(B)) == ([], 0)
        await asyncio.sleep(0.1)  # the renewal period under test, not synchronisation
    [p] = await a.r.xpending_range(keys.jobs(B), keys.GROUP, "-", "+", 10)
    assert (p["consumer"], p["times_delivered"]) == ("alpha", 1)


async def test_a_file_with_no_outcome_after_max_deliveries_is_dead_lettered_then_retried(hosts):
    a, b, c = hosts
    await a.enqueue(B, "poison.bin", SHA, 9)
    [d] = await a.take([B], 10, 100)
    await a.begin(d)  # alpha dies running it (delivery 1)
    [d] = await until(lambda: _reclaimed(b), what="beta reclaims")  # delivery 2, beta dies too
    assert await b.begin(d) == "run"

    async def dead_lettered():
        runnable, dead = await c.reclaim(B)
        assert not runnable  # delivery 3 > max_deliveries 2: never handed out again
        return dead

    assert await until(dead_lettered, what="gamma dead-letters it") == 1
    state = json.loads(await a.r.hget(keys.files(B), d.field))
    assert (state["state"], state["last_host"]) == ("dead", "beta")
    [(dlq_id, entry)] = await a.r.xrange(keys.dlq(B))
    assert (entry["rel"], entry["deliveries"], entry["last_host"]) == ("poison.bin", "2", "beta")
    assert await a.r.xlen(keys.jobs(B)) == 0
    assert await a.enqueue(B, "poison.bin", SHA, 9) is None  # dead is an outcome: not re-queued
    # --dlq-retry: back on the stream with a fresh delivery count, then done once.
    assert await dlq_retry(a.r, B, dlq_id, "ops") is not None
    assert await a.r.xlen(keys.dlq(B)) == 0
    [d] = await a.take([B], 10, 100)
    assert await a.begin(d) == "run" and d.deliveries == 1
    assert await a.finish(d, "ok", {}) == "committed"
    assert [o["state"] for o in await outcomes(a.r)] == ["dead", "ok"]
    assert await dlq_retry(a.r, B, dlq_id, "ops") is None


async def test_a_file_that_never_started_is_not_dead_lettered_with_the_poison_that_killed_its_hosts(hosts):
    a, b, c = hosts
    await a.enqueue(B, "neighbour.txt", SHA, 3)
    [d] = await a.take([B], 10, 100)  # alpha holds it in its local queue, then dies
    [d] = await until(lambda: _reclaimed(b), what="beta reclaims")  # beta dies too, before BEGIN
    [d] = await until(lambda: _reclaimed(c), what="gamma reclaims")
    assert d.deliveries == 3  # over max_deliveries (2), but it never started: it runs
    assert await c.begin(d) == "run"
    assert await c.finish(d, "ok", {}) == "committed"
    assert await a.r.xlen(keys.dlq(B)) == 0


async def test_begin_skips_a_redelivered_file_that_already_has_an_outcome(hosts):
    a, b, _ = hosts
    await a.enqueue(B, "x.txt", SHA, 3)
    [d] = await a.take([B], 10, 100)
    # Simulate a redelivery after an outcome was recorded (redis/redis#7105: an AOF restart can
    # move last-delivered-id back): the outcome hash, not the PEL, is the truth for "done".
    await a.r.hset(keys.files(B), d.field, json.dumps({"state": "ok", "host": "beta"}))
    assert await a.begin(d) == "done"
    assert (await a.r.xpending(keys.jobs(B), keys.GROUP))["pending"] == 0


async def test_a_restarted_host_takes_back_its_own_pending_files_first(hosts):
    a, _, _ = hosts
    await a.enqueue(B, "x.txt", SHA, 3)
    [d] = await a.take([B], 10, 100)
    assert await a.take([B], 10, 50) == []
    [again] = await a.take([B], 10, 0, own=True)
    assert again.stream_id == d.stream_id
    assert await a.begin(again) == "run" and again.deliveries == 2


async def test_a_batch_enqueues_begins_and_finishes_in_one_call_each_fenced_per_file(hosts):
    from obtui.cluster.protocol import Version

    a, b, _ = hosts
    await a.enqueue(B, "f1.txt", SHA, 3)  # queued before: the batch must not queue it again
    ids = await a.enqueue_many(B, [Version(f"f{i}.txt", SHA, 3) for i in range(4)])
    assert [x is None for x in ids] == [False, True, False, False]
    assert await a.r.hget(keys.STATS, "enqueued") == "4"
    got = await a.take([B], 10, 100)
    assert len(got) == 4
    stolen, done_elsewhere, *mine = got
    # beta takes one over (alpha's lease on it is lost) and records another's outcome first
    await a.r.xclaim(keys.jobs(B), keys.GROUP, "beta", 0, [stolen.stream_id], justid=True)
    assert await a.begin_many(got) == ["lost", "run", "run", "run"]
    await a.r.hset(keys.files(B), done_elsewhere.field, json.dumps({"state": "ok", "host": "gamma"}))
    answers = await a.finish_many([(d, "ok", {"rule": "notes"}) for d in got])
    assert answers == ["refused", "duplicate", "committed", "committed"]
    assert sorted(o["rel"] for o in await outcomes(a.r)) == sorted(d.rel for d in mine)
    assert await a.r.hget(keys.STATS, "lease_lost") == "1"
    assert await a.r.hget(keys.STATS, "ok") == "2"
    # the refused one is still beta's to finish; the rest are acknowledged
    [p] = await a.r.xpending_range(keys.jobs(B), keys.GROUP, "-", "+", 10)
    assert (p["message_id"], p["consumer"]) == (stolen.stream_id, "beta")
    assert await b.finish_many([(stolen, "ok", {})]) == ["committed"]
    # a retried batch whose first try committed (the reply was lost) answers committed again
    assert await a.finish_many([(d, "ok", {"rule": "notes"}) for d in mine]) == ["committed"] * 2
