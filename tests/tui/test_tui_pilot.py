"""Driving the app with Pilot: snapshots flowing into panes, keys reaching the engine, quitting."""

from __future__ import annotations

import dataclasses
import threading

from textual.widgets import Static

from obtui.api.snapshot import BreakerState, DirReport, QueueItem, ScanProgress
from obtui.tui.app import ObtuiApp
from obtui.tui.screens.dashboard import DashboardScreen
from obtui.tui.screens.error_detail import ErrorDetailScreen
from obtui.tui.screens.errors import ErrorsScreen
from obtui.tui.screens.status import StatusScreen
from obtui.tui.widgets.keyed_table import KeyedTable
from tests.tui.fakes import NOW, FakeEngine, FakeStore, sample_records, sample_snapshot, summary_of
from tests.tui.harness import build_app

SIZE = (100, 30)


def text(app: ObtuiApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


def rows(app: ObtuiApp, selector: str) -> dict[str, list[str]]:
    table = app.screen.query_one(selector, KeyedTable)
    return {key: [cell.plain for cell in table.get_row(key)] for key in table.row_keys}


def second_snapshot():
    """`sample_snapshot()` one step later: a file finished, one arrived, a directory was added."""
    first = sample_snapshot()
    m = dataclasses.replace(first.metrics, files_processed=1151, successful=1121, events_received=1240)
    new_item = QueueItem(
        "/srv/uploads/new.txt", "/srv/uploads/new.txt", "/srv/uploads", "new.txt", "notes", "pending", NOW - 2
    )
    items = (
        dataclasses.replace(first.queue_items[1], state="processing", since=NOW - 1),
        *first.queue_items[2:],
        new_item,
    )
    dirs = (
        dataclasses.replace(first.directories[0], total=813, successful=801, last_file="/srv/incoming/a.txt"),
        *first.directories[1:],
        DirReport("/srv/fresh", 1, 1, 0, 10.0, 100, "/srv/fresh/one.txt"),
    )
    return dataclasses.replace(first, version=8, metrics=m, queue_items=items, directories=dirs)


async def test_panes_follow_the_snapshot_with_minimal_table_changes() -> None:
    engine = FakeEngine(script=[sample_snapshot(), second_snapshot()])
    app = build_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        metrics = text(app, "#metrics-figures")
        assert "1,150 · 0.50/s" in metrics and "1,120 (97.4%)" in metrics and "00:15:32" in metrics
        assert "1.2 MB" in metrics and "avg 45 ms · p95 120 ms" in metrics
        queue = rows(app, "#queue-table")
        assert list(queue) == [i.key for i in sample_snapshot().queue_items]
        assert queue["/srv/uploads/[red]x[/red].txt"][0] == "[red]x[/red].txt"  # never markup
        assert queue["/srv/uploads/scan-0043.pdf"][1:3] == ["waiting", "1h02m"]
        assert "settling 2 · pending 5 · processing 2" in text(app, "#queue-counts")
        assert rows(app, "#dirs-table")["/srv/incoming"][:3] == ["incoming", "812", "98.5%"]

        table = app.screen.query_one("#queue-table", KeyedTable)
        updates: list[tuple[object, object]] = []
        original = table.update_cell

        def spy(row_key, column_key, value, **kw):  # type: ignore[no-untyped-def]
            updates.append((row_key, column_key))
            return original(row_key, column_key, value, **kw)

        table.update_cell = spy  # type: ignore[method-assign]
        engine.advance()
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        screen.poll()
        await pilot.pause()

        assert "1,151 · 0.50/s" in text(app, "#metrics-figures")
        queue = rows(app, "#queue-table")
        assert list(queue) == [i.key for i in second_snapshot().queue_items]  # a.txt left, new.txt joined
        assert "/srv/incoming/a.txt" not in queue and queue["/srv/uploads/new.txt"][1] == "pending"
        long_key = sample_snapshot().queue_items[1].key
        assert sorted(updates) == sorted([(long_key, "state"), (long_key, "waiting")])
        dirs = rows(app, "#dirs-table")
        assert dirs["/srv/incoming"][1] == "813" and "/srv/fresh" in dirs


async def test_unchanged_version_within_the_same_second_is_skipped() -> None:
    app = build_app()
    async with app.run_test(size=SIZE):
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        shown: list[int] = []
        screen.show = lambda snap, now: shown.append(snap.version)  # type: ignore[method-assign]
        screen.poll()
        assert shown == []


async def test_poll_timer_picks_up_new_snapshots() -> None:
    engine = FakeEngine(sample_snapshot())
    app = build_app(engine, poll_interval=0.02)
    async with app.run_test(size=SIZE) as pilot:
        engine.set_snapshot(second_snapshot())
        for _ in range(50):
            await pilot.pause(0.02)
            if "1,151" in text(app, "#metrics-figures"):
                break
        assert "1,151" in text(app, "#metrics-figures")


async def test_pause_resume_and_rescan_keys() -> None:
    engine = FakeEngine()
    app = build_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        assert app.paused and engine.names() == ["pause"]
        await pilot.press("p")
        await pilot.press("r")
        assert engine.names() == ["pause", "resume", "rescan"]


async def test_header_shows_run_state_paused_and_open_breakers() -> None:
    snap = sample_snapshot(
        state="paused", breakers=(BreakerState("pdfs", "open", failures=5, opened_at=NOW - 10),)
    )
    app = build_app(FakeEngine(snap))
    async with app.run_test(size=SIZE) as pilot:
        assert app.sub_title == "RUN-2026-02-18-040428 · paused · breaker open: pdfs"
        assert app.has_class("-paused") and app.has_class("-breaker-open")
        assert app.paused  # so p resumes
        await pilot.press("p")
        assert app.host.names() == ["resume"]  # type: ignore[attr-defined]


async def test_running_scan_shows_progress() -> None:
    snap = sample_snapshot(scans=(ScanProgress("/srv/incoming", scanned=1500, queued=12, reason="manual"),))
    app = build_app(FakeEngine(snap))
    async with app.run_test(size=SIZE):
        assert app.screen.query_one("#queue").has_class("-scanning")
        assert "incoming: 1,500 seen, 12 queued" in str(app.screen.query_one("#scan-label", Static).content)


async def test_quit_stops_gracefully_and_exits() -> None:
    engine = FakeEngine()
    app = build_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert engine.calls[0] == ("request_stop", False)
    assert app.return_code == 0


async def test_quit_waits_for_in_flight_work_and_second_q_forces() -> None:
    engine = FakeEngine(hold_stop=True)
    app = build_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause(0.3)
        assert "stopping… in-flight work finishing" in app.sub_title
        assert app.return_code is None  # still waiting for the engine
        await pilot.press("q")
        await pilot.pause()
    assert engine.calls == [("request_stop", False), ("request_stop", True)]
    assert app.return_code == 0


async def test_engine_started_on_mount_and_stopped_on_unmount() -> None:
    engine = FakeEngine()
    app = build_app(engine, start_engine=True)
    async with app.run_test(size=SIZE):
        assert engine.names() == ["start"]
    assert engine.names() == ["start", "request_stop"]


async def test_new_error_reaches_recent_errors_errors_screen_and_detail() -> None:
    records = sample_records()
    first = sample_snapshot(recent_errors=tuple(summary_of(r) for r in records[1:]))
    second = sample_snapshot(version=8, recent_errors=tuple(summary_of(r) for r in records))
    engine, store = FakeEngine(script=[first, second]), FakeStore(records)
    app = build_app(engine, store)
    async with app.run_test(size=SIZE) as pilot:
        assert list(rows(app, "#errors-table")) == [r.error_id for r in records[1:]]
        engine.advance()
        app.screen.poll()  # type: ignore[attr-defined]
        await pilot.pause()
        recent = rows(app, "#errors-table")
        assert list(recent) == [r.error_id for r in records]  # newest first
        raw = app.screen.query_one("#errors-table", KeyedTable).raw_row(records[0].error_id)
        assert raw == ("041945-003", "FileAccess", records[0].message, "q1 [draft].txt")
        assert recent[records[0].error_id][1].startswith("Permission denied: '/srv/")

        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ErrorsScreen)
        listed = rows(app, "#errors-records")
        assert list(listed) == [r.error_id for r in records]
        assert all(t is not threading.main_thread() for t in store.threads)  # never on the UI thread

        await pilot.press("slash", *"pdftotext")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert store.queries[-1]["text"] == "pdftotext"
        assert list(rows(app, "#errors-records")) == [records[1].error_id]

        await pilot.press("enter")  # one Enter opens the highlighted record
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ErrorDetailScreen)
        assert "pdftotext exited with status 3" in text(app, "#detail-message")
        assert "Check that the PDF is not encrypted." in text(app, "#detail-suggestion")

        await pilot.press("escape")
        assert isinstance(app.screen, ErrorsScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_errors_screen_typing_filters_and_arrows_pick_the_record_enter_opens() -> None:
    records = sample_records()
    engine = FakeEngine(script=[sample_snapshot(recent_errors=tuple(summary_of(r) for r in records))])
    app = build_app(engine, FakeStore(records))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(rows(app, "#errors-records")) == len(records) >= 2
        # A key no binding claims goes to the filter (no `/` needed); the filter is emptied again.
        await pilot.press("x")
        await pilot.pause()
        flt = app.screen.query_one("#errors-filter")
        assert app.screen.focused is flt and flt.value == "x"  # type: ignore[attr-defined]
        await pilot.press("backspace")
        await app.workers.wait_for_complete()
        await pilot.pause()
        # Down in the filter moves the table's cursor; one Enter opens that record.
        await pilot.press("down", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ErrorDetailScreen)
        assert records[1].error_id in text(app, "#detail-summary")


async def test_recent_error_opens_detail_from_the_dashboard_without_a_store() -> None:
    app = build_app(FakeEngine(), store=None)
    async with app.run_test(size=SIZE) as pilot:
        app.screen.query_one("#errors-table", KeyedTable).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ErrorDetailScreen)
        assert "Permission denied" in text(app, "#detail-message")
        assert "no record store" in text(app, "#detail-note")


async def test_status_screen_shows_everything() -> None:
    app = build_app()
    async with app.run_test(size=(140, 60)) as pilot:
        await pilot.press("s")
        assert isinstance(app.screen, StatusScreen)
        body = "\n".join(
            text(app, f"#status-{k}") for k in ("engine", "figures", "buckets", "queue", "breakers")
        )
        for expected in (
            "Config file         /home/ada/.config/obtui/config.toml",
            "config reloaded at 04:12:09",
            "p95 120 ms",
            "Skipped (unchanged) 12",
            "inotify unavailable on NFS",
            "half-open pdfs",
            "opened 1m05s ago",
            "attempt 2",
        ):
            assert expected in body
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_palette_lists_every_action() -> None:
    engine = FakeEngine()
    app = build_app(engine)
    async with app.run_test(size=SIZE):
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        for title in (
            "Status",
            "Errors",
            "Edit config",
            "Pause",
            "Rescan",
            "Help",
            "Quit",
            "Force quit",
            "Theme",
        ):
            assert title in commands
        commands["Rescan"].callback()
        assert engine.names() == ["rescan"]


async def test_engine_that_ends_on_its_own_is_reported() -> None:
    engine = FakeEngine()
    engine.error = RuntimeError("database is locked")  # type: ignore[attr-defined]
    app = build_app(engine, start_engine=True)
    async with app.run_test(size=SIZE) as pilot:
        engine.finish_stop()
        app._check_engine_alive()
        await pilot.pause()
        assert app.engine_ended and "engine stopped" in app.sub_title
        assert any("database is locked" in n.message for n in app._notifications)
        await pilot.press("q")
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert app.return_code == 0


async def test_errors_screen_queries_once_on_open_and_again_only_for_a_new_error() -> None:
    records = sample_records()
    first = sample_snapshot(recent_errors=tuple(summary_of(r) for r in records[1:]))
    second = sample_snapshot(version=8, recent_errors=tuple(summary_of(r) for r in records))
    engine, store = FakeEngine(script=[first, second]), FakeStore(records)
    app = build_app(engine, store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ErrorsScreen)
        assert len(store.queries) == 1  # the first poll, on opening
        screen.poll()
        await app.workers.wait_for_complete()
        assert len(store.queries) == 1  # same newest error: no query
        engine.advance()
        screen.poll()
        await app.workers.wait_for_complete()
        assert len(store.queries) == 2
