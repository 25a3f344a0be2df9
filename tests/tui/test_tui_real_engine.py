"""The TUI issue's acceptance on the REAL engine (no fakes): real bucket folders, real watchdog
observers, real SQLite and the app's real 4×/s poll, with the engine in a child process
(`EngineProcess`, what `obtui DIR` runs) and on a thread of this one (`EngineThread`).

Every wait is a condition polled with a deadline (`until`), never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, Static

from obtui.config.model import Config
from obtui.engine.engine import Engine
from obtui.hosting.process import EngineProcess
from obtui.hosting.thread import EngineThread
from obtui.tui.app import ObtuiApp, make_app
from obtui.tui.launch import _LazyStore
from obtui.tui.screens.config_editor import ConfigEditorScreen
from obtui.tui.screens.dashboard import DashboardScreen
from obtui.tui.screens.error_detail import ErrorDetailScreen
from obtui.tui.screens.errors import ErrorsScreen
from obtui.tui.widgets.keyed_table import KeyedTable
from tests.helpers import db_rows, engine_idle, engine_watching, make_config, success_count, toml_str
from tests.tui.harness import THEMES

pytest.importorskip("obtui.config.loader")

SIZE = (100, 30)


# ---- helpers --------------------------------------------------------------------------------------


async def until(pilot: Any, cond: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
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


def text(app: ObtuiApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


def table(app: ObtuiApp, selector: str) -> KeyedTable:
    return app.screen.query_one(selector, KeyedTable)


def figure(app: ObtuiApp, label: str) -> int:
    """A count from the metrics pane, e.g. `figure(app, "Files")`."""
    m = re.search(rf"^{label}\s+([\d,]+)", text(app, "#metrics-figures"), re.M)
    assert m, f"no {label!r} line in the metrics pane"
    return int(m.group(1).replace(",", ""))


def queue_count(app: ObtuiApp, name: str) -> int:
    """A count from the queue pane's two count lines, e.g. `queue_count(app, "done")`."""
    m = re.search(rf"\b{name} ([\d,]+)", text(app, "#queue-counts"))
    assert m, f"no {name!r} count in the queue pane"
    return int(m.group(1).replace(",", ""))


def errors_for(state: Path, name: str) -> list[tuple[str, str]]:
    if not (state / "obtui.db").exists():
        return []
    rows = db_rows(state, "select file_path, category from errors")
    return [r for r in rows if r[0] and os.path.basename(r[0]) == name]


def successes_for(state: Path, name: str) -> int:
    if not (state / "obtui.db").exists():
        return 0
    rows = db_rows(state, "select file_path from successes")
    return sum(1 for (p,) in rows if os.path.basename(p) == name)


def watchdog_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if type(t).__module__.startswith("watchdog") and t.is_alive()]


HOSTS = ["process", "thread"]


def make_host(kind: str, config: Config, state: Path) -> EngineProcess | EngineThread:
    if kind == "process":
        return EngineProcess(config, state)
    return EngineThread(Engine(config, state, follow_config=False))


@contextlib.asynccontextmanager
async def real_app(
    kind: str, config: Config, state: Path, config_path: Path | None = None
) -> AsyncIterator[tuple[ObtuiApp, EngineProcess | EngineThread]]:
    """The app on a real engine host, wired as `run_tui` does (read-only lazy store); the engine
    is always stopped and joined, and the store closed, on the way out."""
    host = make_host(kind, config, state)
    store = _LazyStore(state)
    app = make_app(host, store, config, config_path=config_path, themes_dirs=[THEMES], cli_buckets=[])
    joined = False
    try:
        yield app, host
    finally:
        host.request_stop()
        joined = host.join(30)  # blocking is fine here: the app has exited already
        store.close()
    assert joined, f"the engine {kind} did not end within 30 s"
    assert host.error is None, host.error


# ---- 1 + 3: panes follow the engine; an induced failure reaches every error view; q exits -------


@pytest.mark.parametrize("kind", HOSTS)
def test_dashboard_follows_the_real_engine_and_quits_cleanly(tmp_path: Path, kind: str) -> None:
    # Its own event loop, closed by asyncio.run as `App.run()` closes its loop in `run_tui`: thread
    # workers run in the loop's default executor, whose (non-daemon) threads end only then.
    threads_before = set(threading.enumerate())
    app, host = asyncio.run(dashboard_scenario(tmp_path, kind))
    assert app.return_code == 0
    assert host.join(10), f"engine {kind} still alive after q"
    assert host.snapshot().state == "stopped"
    assert host.exit_code == 1  # like `obtui --headless`: a file (empty.txt) failed during the run
    if isinstance(host, EngineProcess):
        assert host.pid is not None and not Path(f"/proc/{host.pid}").exists(), "engine process left"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # threads that were told to end may need a moment to do so
        left = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
        if not left and not watchdog_threads():
            break
        time.sleep(0.02)
    # Only the main thread is left that could keep the process alive (threads alive before this
    # test, e.g. from other tests, are not its business)...
    assert [t for t in threading.enumerate() if not t.daemon and t not in threads_before] == []
    # ...and nothing at all that this test started, daemon or not, is still running.
    assert left == [], f"threads left behind: {left}"
    assert watchdog_threads() == []


async def dashboard_scenario(tmp_path: Path, kind: str) -> tuple[ObtuiApp, EngineProcess | EngineThread]:
    inc, upl, state = tmp_path / "incoming", tmp_path / "uploads", tmp_path / "state"
    inc.mkdir()
    upl.mkdir()
    config = make_config([inc, upl], debounce_ms=100)
    async with real_app(kind, config, state) as (app, host), app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: engine_watching(host), "engine running with its watchers")
        assert isinstance(app.screen, DashboardScreen)
        await until(pilot, lambda: "Watching    2 dirs" in text(app, "#metrics-figures"), "2 buckets shown")
        assert figure(app, "Files") == 0 and queue_count(app, "done") == 0
        assert table(app, "#dirs-table").row_keys == []

        # Paused: dropped files settle and wait in the queue, where the pane shows them.
        await pilot.press("p")
        await until(pilot, lambda: host.snapshot().state == "paused", "engine paused")
        (inc / "one.txt").write_text("# One\nTODO: first\n")
        (inc / "two.txt").write_text("second #tag\n")
        (upl / "three.md").write_text("FIXME third\n")
        (upl / "empty.txt").write_bytes(b"")  # the induced failure: an empty file
        await until(pilot, lambda: queue_count(app, "pending") == 4, "4 pending in the queue pane")
        queued = table(app, "#queue-table")
        assert sorted(queued.row_keys) == sorted(
            str(p) for p in (inc / "one.txt", inc / "two.txt", upl / "three.md", upl / "empty.txt")
        )
        assert {queued.raw_row(k)[1] for k in queued.row_keys} == {"pending"}  # type: ignore[index]
        assert figure(app, "Files") == 0 and success_count(state) == 0

        # Resumed: the metrics, the queue counts and the directories table follow.
        await pilot.press("p")
        await until(pilot, lambda: figure(app, "Files") == 4, "Files 4 in the metrics pane")
        assert figure(app, "Successful") == 3 and figure(app, "Failed") == 1
        await until(pilot, lambda: queue_count(app, "done") == 3, "done 3 in the queue pane")
        assert queue_count(app, "failed") == 1 and queue_count(app, "pending") == 0
        await until(pilot, lambda: table(app, "#queue-table").row_keys == [], "queue table emptied")
        assert figure(app, "Events") >= 4
        dirs = table(app, "#dirs-table")
        await until(pilot, lambda: sorted(dirs.row_keys) == sorted([str(inc), str(upl)]), "two dir rows")
        assert dirs.raw_row(str(inc))[1] == "2" and dirs.raw_row(str(inc))[2] == "100.0%"  # type: ignore[index]
        assert dirs.raw_row(str(upl))[1] == "2" and dirs.raw_row(str(upl))[2] == "50.0%"  # type: ignore[index]
        assert success_count(state) == 3

        # A new file later: the figures move again.
        (inc / "four.txt").write_text("four\n")
        await until(pilot, lambda: figure(app, "Files") == 5, "Files 5")
        await until(pilot, lambda: dirs.raw_row(str(inc))[1] == "3", "incoming counts 3 files")  # type: ignore[index]
        assert dirs.raw_row(str(inc))[5] == "four.txt"  # type: ignore[index]  # last file

        # The failure in the recent-errors pane...
        [(err_path, category)] = errors_for(state, "empty.txt")
        assert category == "FileContent"
        recent = table(app, "#errors-table")
        await until(pilot, lambda: len(recent.row_keys) == 1, "one recent error")
        [error_id] = recent.row_keys
        assert recent.raw_row(error_id)[1] == "FileContent"  # type: ignore[index]
        assert recent.raw_row(error_id)[3] == "empty.txt"  # type: ignore[index]

        # ...in the `e` screen, read from the SQLite store...
        await pilot.press("e")
        assert isinstance(app.screen, ErrorsScreen)
        records = table(app, "#errors-records")
        await until(pilot, lambda: records.row_keys == [error_id], "the record listed by the errors screen")
        assert records.raw_row(error_id)[3] == "FileContent"  # type: ignore[index]
        assert records.raw_row(error_id)[5] == err_path  # type: ignore[index]
        assert "1 record" in text(app, "#errors-status")

        # ...typing starts the filter (no `/` needed), which queries the store...
        await pilot.press(*"mpty.txt")
        flt = app.screen.query_one("#errors-filter", Input)
        assert app.screen.focused is flt and flt.value == "mpty.txt"
        await until(pilot, lambda: "1 record" in text(app, "#errors-status"), "the filtered records")
        # ...and one Enter shows its detail: message and suggestion from the record.
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ErrorDetailScreen), "the detail screen")
        await until(pilot, lambda: not app.screen.query_one("#detail-note").display, "the record loaded")
        assert "empty" in text(app, "#detail-message").lower()
        assert "The file is empty; it will be processed when it has content." in text(
            app, "#detail-suggestion"
        )
        assert error_id in text(app, "#detail-summary") and "FileContent" in text(app, "#detail-summary")
        await pilot.press("escape")
        assert isinstance(app.screen, ErrorsScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)

        # 3: q stops the engine gracefully and the app exits by itself.
        await pilot.press("q")
        await until(pilot, lambda: app.return_code is not None or not app.is_running, "the app to exit")
        # The app itself stopped the engine (it exits only once the engine has ended), before
        # `real_app` would ask it to on the way out.
        assert not host.alive
    return app, host


# ---- 2: config hot reload from the editor, end to end ----------------------------------------------


CONFIG = """\
# obtui test config
[runner]
debounce_ms = 100
rescan_seconds = 3600
retry_base_seconds = 0.05
retry_max_seconds = 0.2
shutdown_grace_seconds = 5

[[buckets]]
path = {bucket}

[[rules]]
name = "notes"
patterns = ["*.txt"]
action = "note"
"""


def record_titles(app: ObtuiApp) -> list[str]:
    """The titles of the notifications shown from now on (they expire from the app after a while)."""
    titles: list[str] = []
    original = app.notify

    def notify(message: str, **kw: Any) -> None:
        titles.append(str(kw.get("title") or ""))
        original(message, **kw)

    app.notify = notify  # type: ignore[method-assign]
    return titles


def replace_line(editor: ConfigEditorScreen, old: str, new: str) -> int:
    """Replace the whole line `old` with `new` in the TextArea, as typing would; returns its row."""
    ta = editor.editor
    row = ta.text.splitlines().index(old)
    ta.replace(new, (row, 0), (row, len(old)))
    return row


@pytest.mark.parametrize("kind", HOSTS)
async def test_editor_save_reloads_the_engine_and_a_bad_edit_keeps_the_old_rules(
    tmp_path: Path, kind: str
) -> None:
    from obtui.config.loader import load_config

    inc, state = tmp_path / "incoming", tmp_path / "state"
    inc.mkdir()
    config_file = tmp_path / "config.toml"
    config_file.write_text(CONFIG.format(bucket=toml_str(inc)), encoding="utf-8")
    config = load_config(config_file, required=True)
    async with (
        real_app(kind, config, state, config_path=config_file) as (app, host),
        app.run_test(size=SIZE) as pilot,
    ):
        notified = record_titles(app)
        await until(pilot, lambda: engine_watching(host), "engine running with its watchers")

        # Before: *.log matches nothing. A .txt dropped after it shows when the engine is idle.
        (inc / "before.log").write_text("not yet\n")
        (inc / "a.txt").write_text("a\n")
        await until(pilot, lambda: successes_for(state, "a.txt") == 1, "a.txt processed")
        await until(pilot, lambda: engine_idle(host), "engine idle")
        assert successes_for(state, "before.log") == 0 and not (inc / "before.obs.md").exists()

        # Edit the patterns in the editor, ctrl+s: saved and applied to the running engine.
        await pilot.press("c")
        editor = app.screen
        assert isinstance(editor, ConfigEditorScreen)
        replace_line(editor, 'patterns = ["*.txt"]', 'patterns = ["*.txt", "*.log"]')
        assert editor.dirty
        saved_text = editor.editor.text
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not editor.dirty, "the save to finish")
        assert config_file.read_text(encoding="utf-8") == saved_text
        await until(pilot, lambda: app.config.rules[0].patterns == ("*.txt", "*.log"), "engine reloaded")
        assert any("Saved and applied config.toml" in title for title in notified)

        (inc / "x.log").write_text("x TODO\n")
        await until(pilot, lambda: (inc / "x.obs.md").exists(), "x.obs.md written")
        await until(pilot, lambda: successes_for(state, "x.log") == 1, "x.log on record")
        # The reload's reconciliation scan also picked up the .log dropped before it.
        await until(pilot, lambda: successes_for(state, "before.log") == 1, "before.log picked up")

        # An invalid edit: rejected with the problem on its line; nothing written or applied.
        grep_row = replace_line(editor, 'action = "note"', 'action = "note"\ngrep = "(bad"') + 1
        assert editor.editor.text.splitlines()[grep_row] == 'grep = "(bad"'
        editor.editor.move_cursor((0, 0))
        await pilot.press("ctrl+s")
        problem = app.screen.query_one("#editor-problem", Static)
        await until(pilot, lambda: problem.display, "the problem shown")
        message = str(problem.content)
        assert "not a valid regular expression" in message and "(bad" in message, message
        assert f"config.toml:{grep_row + 1}" in message, message
        selection = editor.editor.selection
        assert selection.start[0] == selection.end[0] == grep_row
        assert editor.dirty and app.screen is editor
        assert config_file.read_text(encoding="utf-8") == saved_text  # the file on disk is unchanged
        assert app.config.rules[0].grep == "TODO|FIXME"

        # The old rules stay in force: a new .log is processed, a .md (matches nothing) is not.
        (inc / "z.md").write_text("matches nothing\n")
        (inc / "y.log").write_text("y\n")
        await until(pilot, lambda: successes_for(state, "y.log") == 1, "y.log processed")
        await until(pilot, lambda: engine_idle(host), "engine idle")
        assert successes_for(state, "z.md") == 0 and not (inc / "z.obs.md").exists()
        assert errors_for(state, "z.md") == []
        assert config_file.read_text(encoding="utf-8") == saved_text


# ---- the engine process dies under the dashboard (OOM killer, kill -9) ------------------------------


async def test_a_killed_engine_process_is_shown_and_q_still_quits(tmp_path: Path) -> None:
    inc, state = tmp_path / "incoming", tmp_path / "state"
    inc.mkdir()
    host = EngineProcess(make_config([inc]), state)
    store = _LazyStore(state)
    app = make_app(host, store, make_config([inc]), config_path=None, themes_dirs=[THEMES], cli_buckets=[])
    try:
        async with app.run_test(size=SIZE) as pilot:
            notified = record_titles(app)
            await until(pilot, lambda: engine_watching(host), "engine running")
            assert host.pid is not None
            os.kill(host.pid, signal.SIGKILL)
            await until(pilot, lambda: "engine stopped" in app.sub_title, "the header saying so")
            assert "Engine stopped" in notified
            assert "ended unexpectedly (exit code -9)" in str(host.error)
            await pilot.press("q")
            await until(pilot, lambda: not app.is_running, "the app to exit")
    finally:
        store.close()
    assert app.return_code == 0 and not host.alive
