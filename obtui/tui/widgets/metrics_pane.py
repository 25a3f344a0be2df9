"""Metrics pane: uptime, events, files, durations, bytes and two rate sparklines."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Label, Sparkline, Static

from obtui.api.snapshot import EngineSnapshot
from obtui.config.units import format_clock, format_duration, format_size
from obtui.tui import format as fmt

LABEL_WIDTH = 12


def uptime_seconds(snap: EngineSnapshot, now: float) -> float:
    """The engine's uptime: counted from its start on the (injected) clock while it is alive."""
    if snap.state in ("running", "paused") and snap.started_at > 0:
        return max(0.0, now - snap.started_at)
    return snap.metrics.uptime_s


def metrics_lines(snap: EngineSnapshot, now: float) -> Content:
    """The figures of the pane, one `label  value` pair a line."""
    m = snap.metrics
    fig = m.figures  # the one definition of processed / successful / failed

    def share(rate: float | None) -> str:
        return f"({fmt.pct(rate)})" if rate is not None else ""  # no rate before any outcome

    def line(label: str, *value: str | tuple[str, str]) -> Content:
        return Content.assemble((label.ljust(LABEL_WIDTH), "$text-muted"), *value)

    watching = len(snap.buckets)
    lines = [
        line("Uptime", format_clock(uptime_seconds(snap, now))),
        line("Watching", f"{watching} {'dir' if watching == 1 else 'dirs'}"),
        line("Events", f"{fmt.count(m.events_received)} in · {fmt.count(m.events_processed)} ready"),
        line("Event rate", fmt.rate(m.event_rate)),
        line("Files", f"{fmt.count(fig.processed)} · {fmt.rate(m.file_rate)}"),
        line("Successful", (f"{fmt.count(fig.successful)} ", "$text-success"), share(fig.success_rate)),
        line(
            "Failed",
            (f"{fmt.count(fig.failed)} ", "$text-error" if fig.failed else ""),
            share(fig.failure_rate),
        ),
        line(
            "Duration",
            f"avg {format_duration(m.duration_avg_ms / 1000)} · p95 {format_duration(m.duration_p95_ms / 1000)}",
        ),
        line("Bytes", format_size(m.bytes_processed)),
    ]
    return Content("\n").join(lines)


class MetricsPane(Vertical):
    """Shows `EngineSnapshot.metrics`; updated by `show()`."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "Metrics"
        self._events: tuple[float, ...] | None = None
        self._files: tuple[float, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="metrics-figures")
        with Horizontal(classes="spark-row"):
            yield Label("events/s", classes="spark-label")
            yield Sparkline([], id="event-spark")
        with Horizontal(classes="spark-row"):
            yield Label("files/s", classes="spark-label")
            yield Sparkline([], id="file-spark")

    def show(self, snap: EngineSnapshot, now: float) -> None:
        """Redraw from `snap`; sparklines get new data only when their history changed."""
        # Always the same nine lines in a pane of fixed width: no layout pass needed (a layout
        # pass re-renders the whole screen, four times a second).
        self.query_one("#metrics-figures", Static).update(metrics_lines(snap, now), layout=False)
        m = snap.metrics
        if m.event_rate_history != self._events:
            self._events = m.event_rate_history
            self.query_one("#event-spark", Sparkline).data = list(m.event_rate_history)
        if m.file_rate_history != self._files:
            self._files = m.file_rate_history
            self.query_one("#file-spark", Sparkline).data = list(m.file_rate_history)
