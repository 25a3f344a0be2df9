"""SVG snapshots of every screen, frozen: fixed snapshot, no timers, frozen clock, fixed theme.

`snap_compare` runs the app itself, so these tests are plain (sync) functions.
Update with `pytest tests/tui --snapshot-update` (or `make snapshots`).
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from tests.tui.fakes import FakeEngine, sample_cluster, sample_snapshot
from tests.tui.harness import SHOWN_THEMES, SNAPSHOT_CONFIG, build_app

VALID_CONFIG = """\
# my buckets
[runner]
concurrency = 2

[[rules]]
name = "notes"
patterns = ["*.txt", "*.md"]
action = "note"
"""


async def settle(pilot: Pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


class TestDashboard:
    def test_main_100x30(self, snap_compare) -> None:
        assert snap_compare(build_app(), terminal_size=(100, 30))

    def test_main_80x24(self, snap_compare) -> None:
        assert snap_compare(build_app(), terminal_size=(80, 24))

    def test_light_theme(self, snap_compare) -> None:
        assert snap_compare(build_app(theme="obtui-light"), terminal_size=(100, 30))

    def test_cluster_host_100x34(self, snap_compare) -> None:
        """A cluster host's dashboard: the Cluster pane below the others (this host first)."""
        engine = FakeEngine(sample_snapshot(cluster=sample_cluster()))
        assert snap_compare(build_app(engine), terminal_size=(100, 34))


class TestScreens:
    def test_status(self, snap_compare) -> None:
        assert snap_compare(build_app(), terminal_size=(100, 30), press=["s"])

    def test_status_cluster_host(self, snap_compare) -> None:
        """`s` on a cluster host: the Cluster section below the circuit breakers (wide layout)."""
        engine = FakeEngine(sample_snapshot(cluster=sample_cluster()))
        assert snap_compare(build_app(engine), terminal_size=(130, 44), press=["s"])

    def test_errors_list(self, snap_compare) -> None:
        async def open_errors(pilot: Pilot) -> None:
            await pilot.press("e")
            await settle(pilot)

        assert snap_compare(build_app(), terminal_size=(100, 30), run_before=open_errors)

    def test_help(self, snap_compare) -> None:
        async def open_help(pilot: Pilot) -> None:
            # The help names the themes folder: show a fixed one, not where this checkout lives.
            pilot.app.themes_dirs = [SHOWN_THEMES]  # type: ignore[attr-defined]
            await pilot.press("question_mark")
            await settle(pilot)

        assert snap_compare(build_app(), terminal_size=(100, 30), run_before=open_help)

    def test_error_detail(self, snap_compare) -> None:
        async def open_detail(pilot: Pilot) -> None:
            await pilot.press("e")
            await settle(pilot)
            await pilot.press("down", "enter")
            await settle(pilot)

        assert snap_compare(build_app(), terminal_size=(100, 30), run_before=open_detail)


# Both tests write SNAPSHOT_CONFIG (a fixed path, as the snapshot shows it): one xdist worker.
@pytest.mark.xdist_group("snapshot-config")
class TestConfigEditor:
    def test_validation_error(self, snap_compare) -> None:
        pytest.importorskip("obtui.config.loader")
        SNAPSHOT_CONFIG.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT_CONFIG.write_text(VALID_CONFIG, encoding="utf-8")

        async def break_it(pilot: Pilot) -> None:
            await pilot.press("c")
            await pilot.pause()
            await pilot.press("down", "down", "down", "end")  # end of `concurrency = 2`
            await pilot.press(*"0 x", "ctrl+s")
            await pilot.pause()

        app = build_app(config_path=SNAPSHOT_CONFIG)
        assert snap_compare(app, terminal_size=(80, 24), run_before=break_it)

    def test_discard_changes_confirm(self, snap_compare) -> None:
        """Escape on an edited config asks before throwing the edit away (the confirm screen)."""
        pytest.importorskip("obtui.config.loader")
        SNAPSHOT_CONFIG.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT_CONFIG.write_text(VALID_CONFIG, encoding="utf-8")

        async def edit_then_escape(pilot: Pilot) -> None:
            await pilot.press("c")
            await pilot.pause()
            await pilot.press("down", "down", "down", "end", "1", "escape")
            await pilot.pause()

        app = build_app(config_path=SNAPSHOT_CONFIG)
        assert snap_compare(app, terminal_size=(80, 24), run_before=edit_then_escape)
