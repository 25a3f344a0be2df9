"""A DataTable fed complete row sets that applies only the difference, and that fits its width.

Rows keep stable keys: rows that stay get `update_cell` for the cells that changed, new rows are
appended, vanished rows are removed; a full rebuild happens only when the order changes in
another way (e.g. a newest-first row arrives at the top) or when the layout changes on resize.
Cell values are raw (comparable) values; each column renders them. On resize, optional columns
are dropped (highest `drop` first) until the rest fit, and the flexible column takes what is left.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rich.text import Text
from textual import events
from textual.widgets import DataTable

from obtui.tui.format import trim_left, trim_right

Renderer = Callable[[Any, int], Text]

MAX_SINGLE_REMOVALS = 8  # more rows gone than this: rebuild instead of removing one by one


def text_cell(value: Any, width: int) -> Text:
    """Plain text, cut at the end. Never parsed as markup (paths may contain `[...]`)."""
    return Text(trim_right("" if value is None else str(value), width), no_wrap=True)


def path_cell(value: Any, width: int) -> Text:
    """A path, cut at the start so the file name stays visible."""
    return Text(trim_left("" if value is None else str(value), width), no_wrap=True)


def number_cell(value: Any, width: int) -> Text:
    """Right-aligned text for figures."""
    return Text(trim_right(str(value), width), justify="right", no_wrap=True)


@dataclass(frozen=True)
class Col:
    """One column. `width=None` makes it the flexible column: it takes what the others leave.
    `drop` > 0 marks a column that may be hidden when the table is narrow (highest goes first)."""

    key: str
    label: str
    width: int | None
    render: Renderer = text_cell
    min_width: int = 12
    justify: Literal["left", "right"] = "left"
    drop: int = 0


class KeyedTable(DataTable[Text]):
    """A row-cursor DataTable with `set_rows(rows)` diffing (see the module docstring)."""

    DEFAULT_CSS = """
    KeyedTable { scrollbar-size-vertical: 1; overflow-x: hidden; }
    """

    def __init__(self, columns: Sequence[Col], *, flex_default: int = 24, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._all = tuple(columns)
        self._cols = self._all  # the columns shown
        self._rows: dict[str, tuple[Any, ...]] = {}
        self._flex = flex_default

    def on_mount(self) -> None:
        self._fill()

    def _width(self, col: Col) -> int:
        return self._flex if col.width is None else col.width

    def _add_columns(self) -> None:
        for col in self._cols:
            label = Text(col.label, justify=col.justify)
            self.add_column(label, width=self._width(col), key=col.key)

    def _shown(self, values: tuple[Any, ...]) -> list[tuple[Col, Any]]:
        return [(col, v) for col, v in zip(self._all, values, strict=True) if col in self._cols]

    def _render_row(self, values: tuple[Any, ...]) -> list[Text]:
        return [col.render(v, self._width(col)) for col, v in self._shown(values)]

    def _layout(self, width: int) -> tuple[tuple[Col, ...], int]:
        """The columns that fit in `width` cells, and the flexible column's width."""
        pad = 2 * self.cell_padding
        room = width - 1  # the vertical scrollbar
        cols = list(self._all)

        def needed(cs: list[Col]) -> int:
            return sum((c.min_width if c.width is None else c.width) + pad for c in cs)

        while needed(cols) > room and any(c.drop for c in cols):
            cols.remove(max((c for c in cols if c.drop), key=lambda c: c.drop))
        fixed = sum(c.width + pad for c in cols if c.width is not None)
        flex = next((c for c in cols if c.width is None), None)
        return tuple(cols), max(flex.min_width, room - fixed - pad) if flex else self._flex

    def on_resize(self, event: events.Resize) -> None:
        if self.size.width <= 0:
            return
        cols, flex = self._layout(self.size.width)
        if (cols, flex) != (self._cols, self._flex):
            self._cols, self._flex = cols, flex
            self._rebuild()

    @property
    def row_keys(self) -> list[str]:
        """The keys of the rows, in display order."""
        return list(self._rows)

    def raw_row(self, key: str) -> tuple[Any, ...] | None:
        """The raw values last given for row `key`."""
        return self._rows.get(key)

    def set_rows(self, rows: Sequence[tuple[str, tuple[Any, ...]]]) -> None:
        """Show exactly `rows` (key, raw values), in that order, touching only what changed."""
        new = dict(rows)
        if not self.columns:  # not mounted yet: remember, draw on mount
            self._rows = new
            return
        gone = [k for k in self._rows if k not in new]
        kept = [k for k in new if k in self._rows]
        # Decide on a rebuild before removing anything: DataTable.remove_row re-indexes every
        # remaining row and refreshes the cursor (O(rows) per call). In a burst hundreds of rows
        # leave the queue table between two polls, and the order changes too (files move from
        # pending to processing, at the top); removing them one by one before the rebuild anyway
        # took most of the UI thread's time (and the engine's GIL share away).
        if (
            len(gone) > MAX_SINGLE_REMOVALS
            or kept != [k for k in self._rows if k in new]
            or list(new)[: len(kept)] != kept
        ):
            self._rows = new
            self._rebuild()
            return
        for key in gone:
            self.remove_row(key)
            del self._rows[key]
        for key in kept:
            old, values = self._rows[key], new[key]
            if old == values:
                continue
            for (col, a), (_, b) in zip(self._shown(old), self._shown(values), strict=True):
                if a != b:
                    self.update_cell(key, col.key, col.render(b, self._width(col)))
        for key in list(new)[len(kept) :]:
            self.add_row(*self._render_row(new[key]), key=key)
        self._rows = new

    def _fill(self) -> None:
        self.clear(columns=True)
        self._add_columns()
        for key, values in self._rows.items():
            self.add_row(*self._render_row(values), key=key)

    def _rebuild(self) -> None:
        if not self.columns:
            return
        cursor_key = self._cursor_key()
        self._fill()
        if cursor_key in self._rows:
            self.move_cursor(row=list(self._rows).index(cursor_key), animate=False)

    def _cursor_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # the cursor sits outside the rows
            return None
        return key
