"""Several real `obtui --headless` hosts on one bucket folder and one real redis-server: each file
version gets exactly one recorded outcome cluster-wide, whatever fails (leases of 2 s)."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter

import pytest

from tests.cluster.hosts import Cluster
from tests.cluster.proxy import CuttableProxy
from tests.helpers import obtui, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(redis_server, tmp_path):
    c = Cluster(tmp_path, redis_server.url, lease="2s", max_deliveries=2)
    try:
        yield c
    finally:
        c.stop_all()


def start(c: Cluster, r, names: list[str], **kw) -> None:  # type: ignore[no-untyped-def]
    for n in names:
        c.start(n, **kw)
    wait_for(lambda: set(names) <= c.alive(r), timeout=30, what=f"hosts {names} to join")


def all_done(c: Cluster, r, rels: list[str], timeout: float = 40) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    def done():
        out = c.redis_outcomes(r)
        return out if set(rels) <= set(out) else None

    return wait_for(done, timeout=timeout, what=f"{len(rels)} outcomes in Redis")


def assert_once(c: Cluster, r, rels: list[str], state: str = "ok") -> dict[str, dict]:  # type: ignore[no-untyped-def]
    """Exactly one outcome per file in Redis, and no host journal holds a second record."""
    out = all_done(c, r, rels)
    assert {rel: o["state"] for rel, o in out.items() if rel in rels} == dict.fromkeys(rels, state)
    local = c.local_records()
    dup = {rel: n for rel, n in local.items() if n > 1}
    assert not dup, f"files recorded more than once across the hosts' journals: {dup}"
    stream_outcomes = Counter(f["k"].split("\0")[0] for _, f in r.xrange("obtui:outcomes"))
    assert not {k: n for k, n in stream_outcomes.items() if n > 1}
    return out


def test_a_burst_shared_by_three_hosts_gets_one_outcome_per_file(cluster, redis_server):
    r = redis_server.client()
    start(cluster, r, ["h1", "h2", "h3"], job_seconds=0.05)
    rels = cluster.drop(60)
    out = assert_once(cluster, r, rels)
    # Redis holds the one outcome first; each host's local journal commits it right after.
    wait_for(
        lambda: sum(cluster.local_records().values()) == 60, timeout=15, what="60 records in the journals"
    )
    assert not {rel: n for rel, n in cluster.local_records().items() if n > 1}
    runs = cluster.runs()
    assert len(runs) == 60  # no fault: nothing ran twice
    assert {h for h, _, _ in runs} == {"h1", "h2", "h3"}, Counter(h for h, _, _ in runs)
    assert {o["host"] for o in out.values()} == {"h1", "h2", "h3"}
    rep = json.loads(obtui("--report", "--cluster", redis_server.url, "--json").stdout)
    assert (rep["totals"]["successful"], rep["totals"]["dead"]) == (60, 0)
    st = json.loads(obtui("--status", "--cluster", redis_server.url, "--json").stdout)
    assert st["alive"] == 3 and st["pending"] == 0 and st["lag"] == 0
    assert sum(h["done"] for h in st["hosts"]) >= 0


def test_kill9_of_a_host_mid_burst_its_files_are_reclaimed_after_the_lease(cluster, redis_server):
    r = redis_server.client()
    start(cluster, r, ["h1", "h2", "h3"], job_seconds=0.3)
    rels = cluster.drop(24)
    wait_for(lambda: any(h == "h1" for h, _, _ in cluster.runs()), what="h1 running a file")
    cluster.kill9("h1")
    killed_at = time.monotonic()
    assert_once(cluster, r, rels)
    runs = cluster.runs()
    per_file = Counter(rel for _, rel, _ in runs)
    again = {rel: n for rel, n in per_file.items() if n > 1}
    assert len(again) <= 2, f"only h1's in-flight files (concurrency 2) may run again: {again}"
    assert all(a >= 2 for h, rel, a in runs if rel in again and h != "h1")  # OBTUI_ATTEMPT counts
    assert time.monotonic() - killed_at < 20


def test_sigstop_past_the_lease_then_sigcont_the_late_finish_is_refused(cluster, redis_server):
    r = redis_server.client()
    start(cluster, r, ["h1", "h2"], job_seconds=1.0)
    rels = cluster.drop(6)
    first = wait_for(lambda: next((rel for h, rel, _ in cluster.runs() if h == "h1"), None), what="h1 runs")
    cluster.signal("h1", signal.SIGSTOP)  # its command goes on; the host cannot renew or finish
    out = all_done(cluster, r, rels)
    assert out[first]["host"] == "h2"  # taken over after the lease
    cluster.signal("h1", signal.SIGCONT)
    wait_for(lambda: int(r.hget("obtui:stats", "lease_lost") or 0) >= 1, what="h1's late finish refused")
    assert "late finish" in wait_for(lambda: "refused" in cluster.log_of("h1") and cluster.log_of("h1"))
    assert_once(cluster, r, rels)
    assert r.hget("obtui:files:{incoming}", f"{first}\0" + out[first]["sha256"]).count('"host": "h2"') == 1


def test_a_3s_network_cut_between_one_host_and_redis(cluster, redis_server):
    r = redis_server.client()
    proxy = CuttableProxy(redis_server.port)
    try:
        cluster.start("h1", job_seconds=0.2, redis_url=proxy.url)
        start(cluster, r, ["h2"], job_seconds=0.2)
        wait_for(lambda: "h1" in cluster.alive(r), timeout=30, what="h1 joins through the proxy")
        rels = cluster.drop(20)
        wait_for(lambda: any(h == "h1" for h, _, _ in cluster.runs()), what="h1 running a file")
        proxy.cut(3.0)
        assert_once(cluster, r, rels)
        # h1 is back and takes work again after the cut.
        more = cluster.drop(10, prefix="g")
        assert_once(cluster, r, rels + more)
        wait_for(lambda: "h1" in cluster.alive(r), what="h1 heartbeats again")
    finally:
        proxy.close()


def test_redis_kill9_and_restart_from_its_aof_loses_nothing_acknowledged(cluster, redis_server):
    r = redis_server.client()
    start(cluster, r, ["h1", "h2"], job_seconds=0.1)
    rels = cluster.drop(40)
    wait_for(lambda: len(cluster.redis_outcomes(r)) >= 8, what="some outcomes")
    before = cluster.redis_outcomes(r)
    redis_server.kill9()
    time.sleep(1.5)  # the outage itself (hosts keep running, reconnecting with backoff)
    redis_server.start()
    r = redis_server.client()
    after = assert_once(cluster, r, rels)
    assert {k: v["host"] for k, v in before.items()} == {k: after[k]["host"] for k in before}


def test_a_poison_file_is_dead_lettered_after_max_deliveries_and_dlq_retry_puts_it_back(
    cluster, redis_server
):
    r = redis_server.client()
    start(cluster, r, ["h1", "h2", "h3"], job_seconds=0.05)
    poison = cluster.drop(1, prefix="poison")
    out = all_done(cluster, r, poison, timeout=40)
    assert out[poison[0]]["state"] == "dead"
    assert sum(1 for _, rel, _ in cluster.runs() if rel == poison[0]) == 2  # max_deliveries
    assert sum(1 for p in cluster.hosts.values() if p.poll() is not None) == 2  # it killed two
    [dead] = json.loads(obtui("--dlq", "--json", "--cluster", redis_server.url).stdout)
    assert (dead["path"], dead["deliveries"]) == (poison[0], 2)
    # The cluster goes on with the host left.
    rels = cluster.drop(12)
    assert_once(cluster, r, rels)
    # Fixed (no longer poison): --dlq-retry puts it back and it is done once.
    cluster.poison_marker.unlink()
    res = obtui("--dlq-retry", "all", "--cluster", redis_server.url)
    assert res.returncode == 0 and dead["key"] in res.stdout
    out = wait_for(
        lambda: (o := cluster.redis_outcomes(r)).get(poison[0], {}).get("state") == "ok" and o,
        what="the retried file done",
    )
    assert json.loads(obtui("--dlq", "--json", "--cluster", redis_server.url).stdout) == []


def test_files_dropped_while_every_host_was_down_are_enqueued_once(cluster, redis_server):
    r = redis_server.client()
    rels = cluster.drop(15)
    start(cluster, r, ["h1", "h2"], job_seconds=0.05)  # both start-up scans find them
    assert_once(cluster, r, rels)
    assert len(cluster.runs()) == 15
    assert r.hget("obtui:stats", "enqueued") == "15"


def test_a_command_longer_than_the_lease_keeps_its_file_by_renewing(cluster, redis_server):
    r = redis_server.client()
    start(cluster, r, ["h1", "h2"], job_seconds=5.0)  # 2.5 leases
    rels = cluster.drop(1)
    out = assert_once(cluster, r, rels)
    assert [(rel, attempt) for _, rel, attempt in cluster.runs()] == [(rels[0], 1)]  # never taken over
    assert out[rels[0]]["attempt"] == 1


def test_a_host_stopped_cleanly_hands_its_files_back_before_the_lease(redis_server, tmp_path):
    c = Cluster(tmp_path, redis_server.url, lease="20s", max_deliveries=3)
    r = redis_server.client()
    try:
        start(c, r, ["h1", "h2"], job_seconds=1.0)
        rels = c.drop(12)
        wait_for(lambda: any(h == "h1" for h, _, _ in c.runs()), what="h1 running a file")
        c.signal("h1", signal.SIGTERM)  # its queued files (and any cut off) go back at once
        stopped = time.monotonic()
        c.hosts["h1"].wait(15)
        assert_once(c, r, rels)
        # h1 held up to 2 x concurrency files (2 running, 2 queued); without the hand-back its
        # queued ones would wait out the 20 s lease.
        assert time.monotonic() - stopped < 15
    finally:
        c.stop_all()
