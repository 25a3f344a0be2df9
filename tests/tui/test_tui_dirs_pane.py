"""Issue 13.10: two buckets named `incoming` are told apart in the Directories pane and in
`--report`, and at 80 columns the pane shows whole columns only (none cut off)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from obtui.tui import format as fmt
from obtui.tui.app import ObtuiApp
from obtui.tui.widgets.dirs_pane import COLUMNS
from tests.helpers import engine_watching, make_config, obtui
from tests.tui.test_tui_real_engine import real_app, table, until

pytest.importorskip("obtui.config.loader")


def test_unique_suffixes() -> None:
    got = fmt.unique_suffixes(("/srv/a/incoming", "/home/me/b/incoming", "/srv/uploads", "/x/a/incoming"))
    assert got == {
        "/srv/a/incoming": "srv/a/incoming",
        "/home/me/b/incoming": "b/incoming",
        "/srv/uploads": "uploads",
        "/x/a/incoming": "x/a/incoming",
    }
    assert (
        fmt.display_dir("/srv/a/incoming/sub", ("/srv/a/incoming", "/x/a/incoming")) == "srv/a/incoming/sub"
    )


def pane_lines(app: ObtuiApp) -> list[str]:
    """The rendered text of the Directories pane, as the terminal shows it."""
    pane = app.screen.query_one("#dirs-table").region
    strips = app.screen._compositor.render_strips()
    return ["".join(s.text for s in strips[y])[pane.x : pane.right] for y in range(pane.y, pane.bottom)]


def test_two_incoming_buckets_apart_and_whole_columns_at_80(tmp_path: Path) -> None:
    north, south = tmp_path / "north" / "incoming", tmp_path / "south" / "incoming"
    north.mkdir(parents=True)
    south.mkdir(parents=True)
    state = tmp_path / "state"

    async def scenario() -> None:
        config = make_config([north, south], debounce_ms=100)
        async with real_app("thread", config, state) as (app, host), app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: engine_watching(host), "engine running with its watchers")
            (north / "a.txt").write_text("north\n")
            (south / "b.txt").write_text("south\n")
            (south / "empty.txt").write_bytes(b"")  # a failure: 50% in south
            dirs = table(app, "#dirs-table")
            await until(pilot, lambda: len(dirs.row_keys) == 2, "two directory rows")
            await until(pilot, lambda: dirs.raw_row(str(south.resolve()))[1] == "2", "south's two files")
            assert dirs.raw_row(str(north.resolve()))[0] == "north/incoming"  # type: ignore[index]
            assert dirs.raw_row(str(south.resolve()))[0] == "south/incoming"  # type: ignore[index]
            await until(pilot, lambda: any("south/incoming" in line for line in pane_lines(app)), "drawn")
            lines = pane_lines(app)
            shown = [c for c in COLUMNS if c.key in {str(k.value) for k in dirs.columns}]
            header = lines[0]
            # Every column shown has its whole label, and the columns that do not fit are left
            # out whole (their labels appear nowhere), never cut in the middle.
            labels = re.findall(r"\S+(?: \S+)?", header)
            assert labels == [c.label for c in shown], (header, lines)
            assert "Files" in labels and "OK" in labels
            body = "\n".join(lines)
            assert re.search(r"north/incoming\s+1\s+100\.0%", body), body
            assert re.search(r"south/incoming\s+2\s+50\.0%", body), body
            await pilot.press("q")
            await until(pilot, lambda: not app.is_running or app.return_code is not None, "the app to exit")

    asyncio.run(scenario())
    # `--report` on the same records: each bucket under its own full path.
    text = obtui("--report", "--state-dir", str(state)).stdout
    for bucket, files in ((north, 1), (south, 2)):
        section = text.split(f"\n{bucket.resolve()}\n", 1)
        assert len(section) == 2, text
        assert re.match(rf"  Processed:\s+{files}\n", section[1]), text
