"""The retry keys of the errors screens on the REAL engine (thread host), real folders and the real
store: `t` retries the selected error's file, `T` every file the filter shows after a
confirmation; both are in the footer, and a retry of a file that now succeeds does nothing."""

from __future__ import annotations

from pathlib import Path

from obtui.config.model import PostAction, RuleConfig
from obtui.tracking.requests import RetryRequester
from obtui.tui.screens.confirm import ConfirmScreen
from obtui.tui.screens.error_detail import ErrorDetailScreen
from obtui.tui.screens.errors import ErrorsScreen
from tests.helpers import db_rows, engine_watching, make_config, success_count
from tests.tui.test_tui_real_engine import real_app, table, until


def _failed(state: Path) -> int:
    if not (state / "obtui.db").exists():
        return 0
    return db_rows(state, "select count(*) from errors where failed_file = 1")[0][0]


def _footer_keys(app) -> set[str]:  # type: ignore[no-untyped-def]
    return {b.binding.key for b in app.screen.active_bindings.values() if b.binding.show}


async def test_retry_selected_then_all_shown_from_the_errors_screens(tmp_path: Path) -> None:
    inc, state, flag = tmp_path / "in", tmp_path / "state", tmp_path / "flag"
    inc.mkdir()
    rule = RuleConfig(
        name="needs-flag",
        patterns=("*.txt",),
        action="command",
        command=("test", "-e", str(flag)),
        retries=0,
        on_failure=PostAction("move", "failed/"),
    )
    config = make_config([inc], rules=[rule], debounce_ms=100, breaker_threshold=100)
    async with real_app("thread", config, state) as (app, host), app.run_test(size=(120, 30)) as pilot:
        app.retries = RetryRequester(state)
        await until(pilot, lambda: engine_watching(host), "engine watching")
        for name in ("a.txt", "b.txt", "c.txt"):
            (inc / name).write_text(name)
        await until(pilot, lambda: _failed(state) == 3, "3 failures")
        await until(pilot, lambda: len(list((inc / "failed").iterdir())) == 3, "3 files in failed/")
        flag.touch()

        await pilot.press("e")
        assert isinstance(app.screen, ErrorsScreen)
        await until(pilot, lambda: len(table(app, "#errors-records").row_keys) == 3, "3 error rows")
        assert {"t", "T"} <= _footer_keys(app)
        first = app.screen.retry_target()
        assert first is not None
        # The error record names where the failed file is now (issue 13.5): failed/<name>.
        first_file = Path(db_rows(state, "select file_path from errors where error_id = ?", first)[0][0])
        assert first_file.parent == inc / "failed"
        await pilot.press("t")
        await until(pilot, lambda: success_count(state) == 1, "the selected file processed again")
        assert db_rows(state, "select file_path from successes") == [(str(inc / first_file.name),)]
        assert (inc / first_file.name).exists() and not first_file.exists()  # brought back from failed/

        # The detail screen, opened from the filtered list, has both keys too.
        await pilot.press("enter")
        assert isinstance(app.screen, ErrorDetailScreen)
        assert {"t", "T"} <= _footer_keys(app)
        await pilot.press("T")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # a "no" changes nothing
        assert isinstance(app.screen, ErrorDetailScreen)
        await pilot.press("escape")

        await pilot.press("T")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: success_count(state) == 3, "every file shown processed again")
        await until(pilot, lambda: not list((inc / "failed").iterdir()), "failed/ empty")
        await until(pilot, lambda: not db_rows(state, "select * from requests"), "requests taken")
        # Nothing left to retry: the same key does nothing but say so.
        await pilot.press("T")
        await pilot.press("y")
        await until(
            pilot,
            lambda: any("Nothing to retry" in n.message for n in app._notifications),
            "a 'nothing to retry' note",
        )
        assert success_count(state) == 3
