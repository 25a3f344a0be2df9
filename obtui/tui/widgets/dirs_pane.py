"""Directories pane: the per-directory success report (the figures of `obtui --report`)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical

from obtui.api.snapshot import EngineSnapshot
from obtui.config.units import format_duration, format_size
from obtui.tui import format as fmt
from obtui.tui.widgets.keyed_table import Col, KeyedTable, number_cell, path_cell

COLUMNS = (
    Col("dir", "Directory", None, path_cell, min_width=12),
    Col("files", "Files", 6, number_cell, justify="right"),
    Col("ok", "OK", 6, number_cell, justify="right"),
    Col("avg", "Avg", 7, number_cell, justify="right", drop=1),
    Col("bytes", "Bytes", 9, number_cell, justify="right", drop=2),
    Col("last", "Last file", 20, path_cell, drop=3),
)


class DirsPane(Vertical):
    """Shows `EngineSnapshot.directories`; updated by `show()`."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "Directories"

    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="dirs-table")

    def show(self, snap: EngineSnapshot, now: float) -> None:
        """Redraw from `snap`."""
        buckets = tuple(b.path for b in snap.buckets)
        # Labels that tell two buckets of the same name apart, and directories from the history
        # of buckets no longer watched too.
        under = lambda d: any(d == b or d.startswith(b.rstrip("/") + "/") for b in buckets)  # noqa: E731
        labels = fmt.unique_suffixes(
            buckets + tuple(d.directory for d in snap.directories if not under(d.directory))
        )
        rows = [
            (
                d.directory,
                (
                    fmt.display_dir(d.directory, buckets, labels),
                    fmt.count(d.total),
                    fmt.pct(d.figures.success_rate),
                    format_duration(d.avg_duration_ms / 1000) if d.total else "–",
                    format_size(d.bytes),
                    fmt.base_name(d.last_file) or "–",
                ),
            )
            for d in snap.directories
        ]
        self.query_one("#dirs-table", KeyedTable).set_rows(rows)
