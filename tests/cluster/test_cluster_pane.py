"""The dashboard's Cluster pane on a real cluster host: a real redis-server, a real engine in its
child process (what `obtui DIR` runs) with `[cluster]`, and the app's real 4×/s poll."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import pickle
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.widgets import Static

from obtui.api.snapshot import EngineSnapshot
from obtui.cluster.protocol import Coordinator, connect
from obtui.cluster.watch import ClusterWatch
from obtui.config.model import ClusterConfig
from obtui.hosting.process import EngineProcess
from obtui.tracking.runtime_files import read_status
from obtui.tui.app import ObtuiApp, make_app
from obtui.tui.launch import _LazyStore
from obtui.tui.screens.status import StatusScreen
from obtui.tui.widgets.cluster_pane import ClusterPane, cluster_summary
from obtui.tui.widgets.keyed_table import KeyedTable
from tests.helpers import engine_watching, make_config, wait_for
from tests.tui.fakes import sample_cluster, sample_snapshot
from tests.tui.harness import THEMES


async def until(pilot: Any, cond: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Let the app run until `cond()` is truthy (checked every 50 ms); fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        with contextlib.suppress(Exception):  # e.g. a widget not mounted yet
            last = cond()
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        await pilot.pause(0.05)


def summary(app: ObtuiApp) -> str:
    return str(app.screen.query_one("#cluster-summary", Static).content)


def host_row(app: ObtuiApp, name: str) -> tuple[Any, ...] | None:
    return app.screen.query_one("#cluster-table", KeyedTable).raw_row(name)


def test_cluster_pane_shows_this_host_and_its_done_count(redis_server: Any, tmp_path: Path) -> None:
    bucket, state = tmp_path / "incoming", tmp_path / "state"
    bucket.mkdir()
    config = dataclasses.replace(
        make_config([bucket], debounce_ms=100),
        cluster=ClusterConfig(redis=redis_server.url, host="alpha", lease_seconds=2.0),
    )
    host = EngineProcess(config, state)
    store = _LazyStore(state)
    app = make_app(host, store, config, config_path=None, themes_dirs=[THEMES], cli_buckets=[])

    async def scenario() -> None:
        async with app.run_test(size=(100, 34)) as pilot:
            await until(pilot, lambda: engine_watching(host), "engine running with its watcher")
            pane = app.screen.query_one(ClusterPane)
            await until(pilot, lambda: pane.display and host_row(app, "alpha"), "the Cluster pane with alpha")
            row = host_row(app, "alpha")
            assert row is not None and row[:2] == ("alpha (this host)", "alive")
            assert row[4] == "0"
            await until(pilot, lambda: "1/1 hosts alive" in summary(app), "alpha alive in the summary")

            for i in range(3):
                (bucket / f"f{i}.txt").write_text(f"file {i}\n")
            await until(pilot, lambda: (host_row(app, "alpha") or ())[4:] == ("3",), "done 3 for alpha")
            assert "lag 0" in summary(app) and "dead 0" in summary(app)
            assert pane.border_subtitle == redis_server.url

            def status_done() -> Any:  # `obtui --status --json` reads this file (every 2 s)
                cluster = ((read_status(state) or {}).get("snapshot") or {}).get("cluster") or {}
                return [(h["name"], h["done"]) for h in cluster.get("hosts", [])] == [("alpha", 3)]

            await until(pilot, status_done, "status.json with the cluster's figures")

            await pilot.press("s")  # the status screen has the same figures
            await until(pilot, lambda: isinstance(app.screen, StatusScreen), "the status screen")
            section = str(app.screen.query_one("#status-cluster", Static).content)
            assert "alpha (this host)" in section and "done 3" in section, section

    try:
        asyncio.run(scenario())
    finally:
        host.request_stop()
        joined = host.join(30)
        store.close()
    assert joined and host.error is None, host.error


def test_single_host_snapshots_carry_no_cluster_and_the_view_travels() -> None:
    assert EngineSnapshot().cluster is None and EngineSnapshot().to_json()["cluster"] is None
    snap = sample_snapshot(cluster=sample_cluster())
    assert pickle.loads(pickle.dumps(snap)) == snap  # the socket to the dashboard pickles it
    doc = snap.to_json()["cluster"]
    assert (doc["host"], doc["alive"], doc["lag"], doc["dead"]) == ("alpha", 2, 37, 2)
    assert [h["name"] for h in doc["hosts"]] == ["alpha", "bravo", "charlie"]


def test_the_view_keeps_the_last_figures_and_says_why_while_redis_is_down(redis_server: Any) -> None:
    async def announce() -> None:
        r = connect(redis_server.url)
        await Coordinator(r, "alpha", lease_ms=5000, max_deliveries=3).heartbeat(
            {"in_flight": 1, "done": 7, "pid": 1}, 5000
        )
        await r.aclose()

    asyncio.run(announce())
    watch = ClusterWatch(redis_server.url, "alpha", interval=0.1)
    watch.start()
    try:
        wait_for(lambda: watch().taken_at > 0, what="a first read of the cluster")
        assert [(h.name, h.alive, h.in_flight, h.done) for h in watch().hosts] == [("alpha", True, 1, 7)]
        assert watch().error is None
        redis_server.stop()
        view = wait_for(lambda: watch().error and watch(), what="the view to say Redis is down")
        assert view.error.startswith("Redis unreachable")
        assert [h.done for h in view.hosts] == [7]  # the last figures stay
        assert "Redis unreachable" in str(cluster_summary(view))
        redis_server.start()  # same port: the view recovers by itself
        wait_for(lambda: watch().error is None, what="the view to recover after Redis restarted")
    finally:
        watch.stop()
    assert not watch._thread.is_alive()
