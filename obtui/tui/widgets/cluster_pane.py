"""Cluster pane (cluster mode only): every host with its state and figures, the queue's lag and
the dead-letter count, as `obtui --status --cluster` shows them."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from obtui.api.snapshot import ClusterHost, ClusterView
from obtui.config.units import format_span
from obtui.tui import format as fmt
from obtui.tui.widgets.keyed_table import Col, KeyedTable, number_cell, text_cell

COLUMNS = (
    Col("host", "Host", None, text_cell, min_width=12),
    Col("state", "State", 6),
    Col("beat", "Heartbeat", 9, number_cell, justify="right"),
    Col("inflight", "In flight", 9, number_cell, justify="right"),
    Col("done", "Done", 8, number_cell, justify="right"),
)


def cluster_summary(view: ClusterView) -> Content:
    """One line: hosts alive, the queue's length, lag and pending, the dead letters (or, while
    Redis cannot be read, why)."""

    def part(label: str, n: int, style: str = "") -> Content:
        return Content.assemble((f"{label} ", "$text-muted"), (fmt.count(n), style))

    if view.error is not None:
        return Content.styled(fmt.one_line(view.error), "$text-error")
    if not view.taken_at:
        return Content.styled(f"reading {view.redis} …", "$text-muted")
    return Content(" · ").join(
        [
            Content.assemble(
                (fmt.count(view.alive), "$text-success" if view.alive else "$text-error"),
                (f"/{fmt.count(len(view.hosts))} hosts alive", "$text-muted"),
            ),
            part("stream", view.stream_length),
            part("lag", view.lag, "$text-warning" if view.lag else ""),
            part("pending", view.pending),
            part("dead", view.dead, "bold $text-error" if view.dead else ""),
        ]
    )


def heartbeat_words(h: ClusterHost, now: float) -> str:
    """How long ago the host's last heartbeat was, e.g. `2s ago`."""
    return f"{format_span(max(0.0, now - h.last_heartbeat))} ago" if h.last_heartbeat else "never"


def host_rows(view: ClusterView, now: float) -> list[tuple[str, tuple[str, ...]]]:
    """The table's rows: this host first, then the others by name."""
    hosts = sorted(view.hosts, key=lambda h: (h.name != view.host, h.name))
    return [
        (
            h.name,
            (
                f"{h.name} (this host)" if h.name == view.host else h.name,
                "alive" if h.alive else "gone",
                heartbeat_words(h, now),
                fmt.count(h.in_flight),
                fmt.count(h.done),
            ),
        )
        for h in hosts
    ]


class ClusterPane(Vertical):
    """Shows `EngineSnapshot.cluster`; the dashboard hides it when that is None."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "Cluster"

    def compose(self) -> ComposeResult:
        yield Static(id="cluster-summary")
        yield KeyedTable(COLUMNS, id="cluster-table")

    def show(self, view: ClusterView, now: float) -> None:
        """Redraw from `view`; heartbeats are measured against `now`."""
        self.border_subtitle = view.redis
        # Always one line: no layout pass (see MetricsPane.show).
        self.query_one("#cluster-summary", Static).update(cluster_summary(view), layout=False)
        self.query_one("#cluster-table", KeyedTable).set_rows(host_rows(view, now))
