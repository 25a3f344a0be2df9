"""`e`: error records from the store, filterable by text and category; Enter opens one.

Typing a character that is no key binding starts the filter; Enter in the filter opens the
highlighted record at once, and up/down there move through the records."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable
from typing import TYPE_CHECKING

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Input, Select, Static
from textual.widgets.input import Selection as InputSelection

from obtui.api.snapshot import EngineSnapshot, ErrorSummary
from obtui.tracking.records import Category, ErrorRecord
from obtui.tui import format as fmt
from obtui.tui.screens.polling import SnapshotScreen
from obtui.tui.screens.retry_keys import RETRY_BINDINGS, RetryKeys
from obtui.tui.widgets.keyed_table import Col, KeyedTable, path_cell

if TYPE_CHECKING:
    from obtui.tui.app import ObtuiApp

LIMIT = 200

COLUMNS = (
    Col("time", "Time", 19, drop=2),
    Col("id", "Error", 25),
    Col("severity", "Severity", 8, drop=4),
    Col("category", "Category", 15, drop=1),
    Col("message", "Message", None, min_width=24),
    Col("file", "File", 30, path_cell, drop=3),
)


@dataclasses.dataclass(frozen=True)
class ErrorRow:
    """What the table shows of one error, from a store record or from the snapshot."""

    error_id: str
    timestamp: str
    severity: str
    category: str
    message: str
    file_path: str | None

    @classmethod
    def of(cls, e: ErrorRecord | ErrorSummary) -> ErrorRow:
        return cls(e.error_id, e.timestamp, str(e.severity), str(e.category), e.message, e.file_path)


class ErrorsScreen(RetryKeys, SnapshotScreen):
    """Lists error records newest first. Store queries run in a thread worker, never here.
    `t` / `T` retry the selected file / every file shown (see `retry_keys`)."""

    app: ObtuiApp

    POLL_NAME = "errors-follow"
    MIN_POLL_SECONDS = 1.0  # a new error means a store query

    BINDINGS = [
        *RETRY_BINDINGS,
        Binding("slash", "focus_filter", "Filter", id="obtui.errors.filter"),
    ]

    class Loaded(Message):
        """A store query finished (posted from the worker thread)."""

        def __init__(self, request: int, rows: list[ErrorRow], error: str | None = None) -> None:
            super().__init__()
            self.request = request
            self.rows = rows
            self.error = error

    def __init__(self) -> None:
        super().__init__(id="errors")
        self._request = 0
        self._rows: dict[str, ErrorRow] = {}
        self._loaded_request = 0
        self._open_when_loaded = False  # Enter came before the filter's query answered

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Horizontal(id="errors-filters"):
            # Not select_on_focus: the key that moved the focus here must not end up selected.
            yield Input(
                placeholder="filter: message, path or error id",
                id="errors-filter",
                select_on_focus=False,
            )
            options = [(str(c), str(c)) for c in Category]
            yield Select(options, prompt="All categories", id="errors-category")
        yield KeyedTable(COLUMNS, id="errors-records", flex_default=40)
        yield Static(id="errors-status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        # Textual then runs SnapshotScreen.on_mount too (handlers run along the MRO): the first poll.
        self.query_one("#errors-records", KeyedTable).focus()

    def snapshot_key(self, snap: EngineSnapshot, now: float) -> Hashable:
        # New errors show up in the snapshot first; query the store again only then.
        return snap.recent_errors[0].error_id if snap.recent_errors else None

    def show(self, snap: EngineSnapshot, now: float) -> None:
        """A new error: query again."""
        self.reload()

    def reload(self) -> None:
        """Query again with the current filter."""
        recent = self.app.host.snapshot().recent_errors
        text = self.query_one("#errors-filter", Input).value.strip() or None
        category = self.query_one("#errors-category", Select).value
        self._request += 1
        if self.app.store is None:
            rows = [
                ErrorRow.of(e)
                for e in recent
                if (category is Select.NULL or e.category == category) and _matches(e, text)
            ]
            self._show(rows, "no record store: the engine's recent errors")
            return
        self.query_one("#errors-status", Static).update("loading…")
        self._query(self._request, text, None if category is Select.NULL else str(category))

    @work(thread=True, exclusive=True, group="errors-query", exit_on_error=False)
    def _query(self, request: int, text: str | None, category: str | None) -> None:
        store = self.app.store
        assert store is not None
        try:
            records = store.errors(limit=LIMIT, category=category, text=text)
        except Exception as exc:  # a broken store must not take the UI down
            self.post_message(self.Loaded(request, [], f"could not read the records: {exc}"))
            return
        self.post_message(self.Loaded(request, [ErrorRow.of(r) for r in records]))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        if event.request != self._request:
            return  # an older query finished after a newer one was asked for
        note = event.error or ("newest first" + (f", at most {LIMIT}" if len(event.rows) >= LIMIT else ""))
        self._show(event.rows, note)
        if self._open_when_loaded:
            self._open_when_loaded = False
            self._open_highlighted()

    def _show(self, rows: list[ErrorRow], note: str) -> None:
        self._loaded_request = self._request
        self._rows = {r.error_id: r for r in rows}
        table = self.query_one("#errors-records", KeyedTable)
        table.set_rows(
            [
                (
                    r.error_id,
                    (
                        fmt.iso_short(r.timestamp),
                        r.error_id,
                        r.severity,
                        r.category,
                        fmt.one_line(r.message),
                        r.file_path,
                    ),
                )
                for r in rows
            ]
        )
        n = len(rows)
        self.query_one("#errors-status", Static).update(f"{n} {'record' if n == 1 else 'records'} · {note}")

    @on(Input.Changed, "#errors-filter")
    @on(Select.Changed, "#errors-category")
    def _filter_changed(self) -> None:
        self.reload()

    def on_key(self, event: events.Key) -> None:
        """A printable key no binding claims starts the filter; up/down in the filter move the
        table's cursor (so the filter and the list work as one)."""
        flt = self.query_one("#errors-filter", Input)
        table = self.query_one("#errors-records", KeyedTable)
        if self.focused is flt:
            if event.key in ("up", "down"):
                event.stop()
                table.action_cursor_up() if event.key == "up" else table.action_cursor_down()
            return
        if self.focused is not table or not event.is_printable or not event.character:
            return
        if event.key in self.active_bindings:
            return  # bindings (the app's keys, this screen's keys) keep their meaning
        event.stop()
        event.prevent_default()
        flt.focus()
        flt.cursor_position = len(flt.value)
        flt.insert_text_at_cursor(event.character)

    @on(Input.Submitted, "#errors-filter")
    def _filter_done(self) -> None:
        """Enter in the filter opens the highlighted record (the first one unless moved), once
        the records for what was typed are in."""
        if self._loaded_request != self._request:
            self._open_when_loaded = True
            return
        self._open_highlighted()

    def _open_highlighted(self) -> None:
        table = self.query_one("#errors-records", KeyedTable)
        table.focus()
        if table.row_count:
            table.action_select_cursor()

    def action_focus_filter(self) -> None:
        """`/`: into the filter, its text selected so that typing replaces it."""
        flt = self.query_one("#errors-filter", Input)
        flt.focus()
        flt.selection = InputSelection(0, len(flt.value))

    @on(DataTable.RowSelected, "#errors-records")
    def _selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if key is None:
            return
        row = self._rows.get(key)
        summary = (
            ErrorSummary(row.error_id, row.timestamp, row.severity, row.category, row.message, row.file_path)
            if row
            else None
        )
        self.app.open_error(key, summary, filtered=list(self._rows))

    def retry_target(self) -> str | None:
        table = self.query_one("#errors-records", KeyedTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return key if key in self._rows else None

    def retry_filtered(self) -> list[str] | None:
        return list(self._rows)


def _matches(e: ErrorSummary, text: str | None) -> bool:
    if not text:
        return True
    needle = text.lower()
    return any(needle in (v or "").lower() for v in (e.message, e.file_path, e.error_id))
