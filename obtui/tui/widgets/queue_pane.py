"""Queue pane: counts by state, the running scan, and a table of the files not finished yet."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Label, ProgressBar, Static

from obtui.api.snapshot import EngineSnapshot, ScanProgress
from obtui.config.units import format_span
from obtui.tui import format as fmt
from obtui.tui.widgets.keyed_table import Col, KeyedTable, number_cell, path_cell

# Rows shown in the queue table. A burst churns through the queue between two polls, and a
# DataTable rebuild costs per row: 500 rows took the engine's throughput down to ~0.4x while
# 100 (more than a screen) keep the dashboard cheap. The counts above always cover everything.
MAX_ROWS = 100

COLUMNS = (
    Col("file", "File", None, path_cell, min_width=16),
    Col("state", "State", 10),
    Col("waiting", "Waiting", 7, number_cell, justify="right"),
    Col("rule", "Rule", 12, drop=1),
)


def queue_counts(snap: EngineSnapshot) -> Content:
    """Two lines of counts by state, with a backlog warning when the queue overflowed."""
    q = snap.queue

    def part(label: str, n: int, style: str = "") -> Content:
        return Content.assemble((f"{label} ", "$text-muted"), (fmt.count(n), style))

    sep = Content(" · ")
    first = sep.join(
        [part("settling", q.settling), part("pending", q.pending), part("processing", q.processing)]
    )
    second = sep.join(
        [
            part("waiting", q.waiting, "$text-warning" if q.waiting else ""),
            part("done", q.completed),
            part("failed", q.failed, "$text-error" if q.failed else ""),
        ]
    )
    if q.backlog:
        second = second + Content.styled("  backlog", "bold $text-warning")
    return Content("\n").join([first, second])


def running_scan(snap: EngineSnapshot) -> ScanProgress | None:
    """The first scan still running, if any."""
    return next((s for s in snap.scans if s.running), None)


class QueuePane(Vertical):
    """Shows `EngineSnapshot.queue`, `.scans` and `.queue_items`; updated by `show()`."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "Queue"

    def compose(self) -> ComposeResult:
        yield Static(id="queue-counts")
        with Horizontal(id="scan-row"):
            yield Label(id="scan-label")
            yield ProgressBar(total=None, show_eta=False, show_percentage=False, id="scan-bar")
        yield KeyedTable(COLUMNS, id="queue-table")

    def show(self, snap: EngineSnapshot, now: float) -> None:
        """Redraw from `snap`; waiting times are measured against `now`."""
        # Always two lines: no layout pass (see MetricsPane.show).
        self.query_one("#queue-counts", Static).update(queue_counts(snap), layout=False)
        scan = running_scan(snap)
        self.set_class(scan is not None, "-scanning")
        if scan is not None:
            name = fmt.base_name(scan.bucket) or scan.bucket
            self.query_one("#scan-label", Label).update(
                Content(
                    f"scan {fmt.trim_left(name, 14)}: {fmt.count(scan.scanned)} seen, {fmt.count(scan.queued)} queued "
                )
            )
        rows = [
            (item.key, (item.rel, item.state, format_span(now - item.since), item.rule or "–"))
            for item in snap.queue_items[:MAX_ROWS]
        ]
        q = snap.queue
        unfinished = q.settling + q.pending + q.processing + q.waiting
        more = unfinished - len(rows)
        self.border_subtitle = f"first {len(rows)} of {fmt.count(unfinished)}" if more > 0 else ""
        self.query_one("#queue-table", KeyedTable).set_rows(rows)
