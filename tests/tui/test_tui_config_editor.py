"""The config editor (`c`) and following edits made to the config file outside the app."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static, TextArea

from obtui.config.model import BucketConfig, Config
from obtui.tui.app import ObtuiApp
from obtui.tui.screens.config_editor import ConfigEditorScreen
from obtui.tui.screens.confirm import ConfirmScreen
from obtui.tui.screens.dashboard import DashboardScreen
from tests.tui.fakes import FakeEngine
from tests.tui.harness import build_app

pytest.importorskip("obtui.config.loader")

SIZE = (100, 30)

VALID = """\
# my own comment, kept as written
[runner]
concurrency = 2   # two at a time

[[rules]]
name = "notes"
patterns = ["*.txt"]
action = "note"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(VALID, encoding="utf-8")
    return path


def record_notes(app: ObtuiApp) -> list[dict[str, Any]]:
    notes: list[dict[str, Any]] = []
    original = app.notify

    def notify(message: str, **kw: Any) -> None:
        notes.append({"message": message, **kw})
        original(message, **kw)

    app.notify = notify  # type: ignore[method-assign]
    return notes


async def open_editor(app: ObtuiApp, pilot: Any) -> ConfigEditorScreen:
    await pilot.press("c")
    await pilot.pause()
    assert isinstance(app.screen, ConfigEditorScreen)
    return app.screen


async def settle(app: ObtuiApp, pilot: Any) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_valid_save_writes_the_text_exactly_and_applies_it(config_file: Path) -> None:
    engine = FakeEngine()
    app = build_app(engine, config_path=config_file)
    notes = record_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot)
        assert editor.editor.text == VALID
        editor.editor.insert("concurrency = 8  # was 2\n", (3, 0))
        editor.editor.delete((2, 0), (3, 0))  # drop the old line, keep everything else as typed
        expected = editor.editor.text
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert config_file.read_text(encoding="utf-8") == expected
        assert "# my own comment, kept as written" in expected
        [applied] = engine.applied
        assert applied.runner.concurrency == 8
        assert engine.apply_threads[0] is not threading.main_thread()
        assert not editor.dirty
        assert any(n["message"] == "rules changed: notes" for n in notes)
        assert app.config.runner.concurrency == 8


async def test_invalid_save_applies_nothing_and_points_at_the_line(config_file: Path) -> None:
    engine = FakeEngine()
    app = build_app(engine, config_path=config_file)
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot)
        editor.editor.insert("concurrency = [oops\n", (3, 0))
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert engine.applied == []
        assert config_file.read_text(encoding="utf-8") == VALID
        problem = app.screen.query_one("#editor-problem", Static)
        assert problem.display and "config.toml:" in str(problem.content)
        assert editor.editor.selection.end[0] in (3, 4)  # the line of the problem
        assert editor.editor.selection.is_empty  # nothing selected for the next key to replace
        assert editor.dirty


async def test_typing_after_a_failed_save_inserts_and_replaces_nothing(config_file: Path) -> None:
    """Issue 13.6: the bad span stayed selected, so `Z` replaced ` junk` and Enter a whole line."""
    engine = FakeEngine()
    app = build_app(engine, config_path=config_file)
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot)
        editor.editor.load_text(VALID.replace("[[rules]]", "[[rules]] junk"))
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert engine.applied == []
        problem = str(app.screen.query_one("#editor-problem", Static).content)
        assert "config.toml:5" in problem, problem  # the error names its line
        assert editor.editor.cursor_location[0] == 4  # and the cursor sits on it
        await pilot.press("Z")
        await pilot.press("enter")
        lines = editor.editor.text.splitlines()
        assert "[[rules]]" in lines[4] + lines[5] and "junk" in lines[4] + lines[5], lines
        assert "Z" in lines[4]
        # Nothing but the two typed keys changed: the text is the bad text plus "Z" and a newline.
        assert editor.editor.text.replace("Z", "").replace("\n", "") == VALID.replace(
            "[[rules]]", "[[rules]] junk"
        ).replace("\n", "")


async def test_semantic_problem_selects_its_line(config_file: Path) -> None:
    engine = FakeEngine()
    app = build_app(engine, config_path=config_file)
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot)
        editor.editor.load_text(VALID.replace("concurrency = 2", "concurrency = -3"))
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert engine.applied == []
        assert "concurrency" in str(app.screen.query_one("#editor-problem", Static).content)
        assert editor.editor.selection.end[0] == 2
        assert editor.editor.selection.is_empty
        assert isinstance(app.screen.focused, TextArea)


async def test_escape_with_unsaved_changes_asks_first(config_file: Path) -> None:
    app = build_app(FakeEngine(), config_path=config_file)
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot)
        await pilot.press("x")
        assert editor.dirty
        await pilot.press("escape")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert app.screen is editor
        await pilot.press("escape", "y")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        assert config_file.read_text(encoding="utf-8") == VALID


async def test_escape_without_changes_closes_at_once(config_file: Path) -> None:
    app = build_app(FakeEngine(), config_path=config_file)
    async with app.run_test(size=SIZE) as pilot:
        await open_editor(app, pilot)
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_no_config_file_yet_creates_the_default_one(tmp_path: Path) -> None:
    target = tmp_path / "conf" / "obtui" / "config.toml"
    engine = FakeEngine()
    app = build_app(engine, config_path=None, default_config_path=target)
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot)
        assert str(target) in str(app.screen.query_one("#editor-path", Static).content)
        assert not editor.dirty
        text = editor.editor.text
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert target.read_text(encoding="utf-8") == text
        assert app.config_path == target and len(engine.applied) == 1
        assert "Editing" in str(app.screen.query_one("#editor-path", Static).content)


async def test_cli_buckets_are_kept_when_the_config_is_applied(config_file: Path, tmp_path: Path) -> None:
    cli_dir = tmp_path / "incoming"
    cli_dir.mkdir()
    engine = FakeEngine()
    config = Config(buckets=(BucketConfig(cli_dir),))
    app = build_app(engine, config=config, config_path=config_file)
    async with app.run_test(size=SIZE) as pilot:
        await open_editor(app, pilot)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert [b.path for b in engine.applied[0].buckets] == [cli_dir]


def touch_later(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # a clearly newer mtime


async def wait_until(pilot: Any, cond: Any) -> None:
    for _ in range(100):
        await pilot.pause(0.02)
        if cond():
            return
    raise AssertionError("condition not met")


async def test_outside_edits_are_applied_or_rejected(config_file: Path) -> None:
    engine = FakeEngine()
    app = build_app(engine, config_path=config_file, config_poll_interval=0.02)
    notes = record_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot)
        changed = VALID.replace("concurrency = 2", "concurrency = 5")
        touch_later(config_file, changed)
        await wait_until(pilot, lambda: len(engine.applied) == 1)
        assert engine.applied[0].runner.concurrency == 5
        await wait_until(pilot, lambda: editor.editor.text == changed)  # no unsaved edits: reloaded
        assert any("changed: applied" in n.get("title", "") for n in notes)

        broken = changed + "[[rules]\n"
        touch_later(config_file, broken)
        await wait_until(pilot, lambda: any(n.get("severity") == "error" for n in notes))
        assert len(engine.applied) == 1  # the previous rules stay
        assert [source for _, source in engine.config_errors] == [str(config_file)]  # on record
        assert "previous rules stay" in [n for n in notes if n.get("severity") == "error"][0]["title"]


async def test_outside_edit_does_not_overwrite_unsaved_changes(config_file: Path) -> None:
    engine = FakeEngine()
    app = build_app(engine, config_path=config_file, config_poll_interval=0.02)
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot)
        await pilot.press("x")
        mine = editor.editor.text
        touch_later(config_file, VALID.replace("concurrency = 2", "concurrency = 6"))
        await wait_until(pilot, lambda: len(engine.applied) == 1)
        assert editor.editor.text == mine and editor.dirty


async def test_own_save_is_not_taken_for_an_outside_edit(config_file: Path) -> None:
    engine = FakeEngine()
    app = build_app(engine, config_path=config_file, config_poll_interval=0.02)
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot)
        editor.editor.insert("# edited\n", (0, 0))
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        await pilot.pause(0.2)
        assert len(engine.applied) == 1
