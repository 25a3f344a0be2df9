"""Recent errors pane: the engine's newest errors first; Enter opens one in detail."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable

from obtui.api.snapshot import EngineSnapshot, ErrorSummary
from obtui.tui import format as fmt
from obtui.tui.widgets.keyed_table import Col, KeyedTable, path_cell

COLUMNS = (
    Col("id", "Error", 10),
    Col("category", "Category", 15, drop=2),
    Col("message", "Message", None, min_width=20),
    Col("file", "File", 18, path_cell, drop=1),
)


class ErrorsPane(Vertical):
    """Shows `EngineSnapshot.recent_errors`; updated by `show()`."""

    class Selected(Message):
        """The user chose an error to look at."""

        def __init__(self, error_id: str, summary: ErrorSummary | None) -> None:
            super().__init__()
            self.error_id = error_id
            self.summary = summary

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "Recent errors"
        self._by_id: dict[str, ErrorSummary] = {}

    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="errors-table")

    def show(self, snap: EngineSnapshot, now: float) -> None:
        """Redraw from `snap` (newest first, as the engine keeps them)."""
        self._by_id = {e.error_id: e for e in snap.recent_errors}
        rows = [
            (
                e.error_id,
                (
                    fmt.short_error_id(e.error_id),
                    e.category,
                    fmt.one_line(e.message),
                    fmt.base_name(e.file_path),
                ),
            )
            for e in snap.recent_errors
        ]
        self.query_one("#errors-table", KeyedTable).set_rows(rows)
        self.border_subtitle = f"{len(rows)}" if rows else ""

    @on(DataTable.RowSelected, "#errors-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = event.row_key.value
        if key is not None:
            self.post_message(self.Selected(key, self._by_id.get(key)))
