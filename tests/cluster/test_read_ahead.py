"""How far a host reads ahead of its workers: a batch per worker while every rule is quick, so a
burst of notes costs a few scripts per batch rather than two per file; one file per worker while a
program is slow (or not timed yet), so its files stay in the stream for the other hosts."""

from __future__ import annotations

import time

import pytest

from tests.cluster.hosts import Cluster
from tests.helpers import wait_for

pytestmark = pytest.mark.slow


def scripts_run(r) -> int:  # type: ignore[no-untyped-def]
    return int(r.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))


def test_a_burst_of_notes_on_one_host_runs_in_batches(redis_server, tmp_path):
    c = Cluster(tmp_path, redis_server.url, lease="20s")
    r = redis_server.client()
    rels = c.drop(300)  # found by the start-up scan: one deep stream at once
    note = f'patterns = ["*.txt"]\naction = "note"\ngrep = ""\noutput_dir = "{tmp_path / "notes"}"\n'
    try:
        r.config_resetstat()
        c.start("h1", rule=note)
        wait_for(lambda: int(r.hget("obtui:stats", "ok") or 0) == len(rels), timeout=60, what="300 outcomes")
        # Per file: a BEGIN and a FINISH script each (600 and more); in batches: a few dozen
        # (enqueues of 64, then a BEGIN and a FINISH per worker batch).
        assert scripts_run(r) < len(rels) // 3, r.info("commandstats")
        assert len(list((tmp_path / "notes").glob("*.md"))) == len(rels)
    finally:
        c.stop_all()


def test_a_slow_program_keeps_one_file_per_worker_ahead(redis_server, tmp_path):
    c = Cluster(tmp_path, redis_server.url, lease="20s")
    r = redis_server.client()
    try:
        c.start("h1", job_seconds=0.4)  # concurrency 2
        wait_for(lambda: "h1" in c.alive(r), timeout=30, what="h1 to join")
        rels = c.drop(12)
        held = []
        deadline = time.monotonic() + 60
        while int(r.hget("obtui:stats", "ok") or 0) < len(rels):
            assert time.monotonic() < deadline, "12 outcomes within 60 s"
            held.append(r.xpending("obtui:jobs:{incoming}", "obtui")["pending"])
            time.sleep(0.02)  # sampling the pending list, not synchronising
        # 2 running and 2 waiting at most: the other 8 stayed in the stream for other hosts.
        assert 0 < max(held) <= 4, held
    finally:
        c.stop_all()


def test_files_a_batch_hands_back_after_its_time_budget_run_later_not_skipped(redis_server, tmp_path):
    """A thread hands the rest of a batch back after 0.25 s; those files keep their lease and
    run next, rather than being settled as 'skipped' (no outcome, never run) on the way."""
    c = Cluster(tmp_path, redis_server.url, lease="20s")
    r = redis_server.client()
    runs = tmp_path / "sh-runs.log"
    script = f'echo "$1" >> {runs}; case "$1" in slow*) sleep 0.35;; esac'
    quick = f"patterns = [\"*.txt\"]\naction = \"command\"\ncommand = ['/bin/sh', '-c', '{script}', 'sh', '{{rel}}']\nretries = 0\n"
    try:
        c.start("h1", rule=quick)
        wait_for(lambda: "h1" in c.alive(r), timeout=30, what="h1 to join")
        fast = c.drop(6, prefix="fast")  # the rule's program is timed as quick: files share a batch
        wait_for(lambda: set(fast) <= set(c.redis_outcomes(r)), timeout=30, what="the quick files done")
        slow = c.drop(8, prefix="slow")  # a batch of these outlasts the budget after its first file
        out = wait_for(
            lambda: o if set(slow) <= set(o := c.redis_outcomes(r)) else None,
            timeout=60,
            what="an outcome for every slow file",
        )
        assert {rel: out[rel]["state"] for rel in slow} == dict.fromkeys(slow, "ok")
        ran = runs.read_text().split()
        assert sorted(rel for rel in ran if rel.startswith("slow")) == sorted(slow)  # each once
    finally:
        c.stop_all()
