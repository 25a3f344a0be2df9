"""`s`: every figure of the snapshot, buckets, queue, breakers, config file and last reload (and,
on a cluster host, the cluster)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual.app import ComposeResult
from textual.containers import Container, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Footer, Header, Static

from obtui.api.snapshot import EngineSnapshot
from obtui.config.units import format_clock, format_duration, format_size, format_span
from obtui.tui import format as fmt
from obtui.tui.screens.polling import SnapshotScreen
from obtui.tui.widgets.cluster_pane import cluster_summary, heartbeat_words
from obtui.tui.widgets.metrics_pane import uptime_seconds
from obtui.tui.widgets.queue_pane import queue_counts

if TYPE_CHECKING:
    from obtui.tui.app import ObtuiApp

WIDTH = 20
WIDE = 110  # from this many columns the sections sit in two columns


def _kv(label: str, value: str, style: str = "") -> Content:
    return Content.assemble((label.ljust(WIDTH), "$text-muted"), (value, style) if style else value)


def _block(lines: list[Content]) -> Content:
    return Content("\n").join(lines) if lines else Content.styled("none", "$text-muted")


def engine_section(snap: EngineSnapshot, now: float, config_path: str | None) -> Content:
    """Run identity, state, config file and reload."""
    return _block(
        [
            _kv("Run", snap.run_id or "–"),
            _kv("Process", str(snap.pid) if snap.pid else "–"),
            _kv("State", snap.state),
            _kv("Uptime", format_clock(uptime_seconds(snap, now))),
            _kv("Config file", config_path or "none (built-in defaults)"),
            _kv("Last reload", snap.last_reload or "none this run"),
            _kv("Rules", ", ".join(snap.rules) or "–"),
        ]
    )


def figures_section(snap: EngineSnapshot) -> Content:
    """Every counter and gauge of `Metrics`."""
    m = snap.metrics
    fig = m.figures  # the one definition of processed / successful / failed

    def share(rate: float | None) -> str:
        return f" ({fmt.pct(rate)})" if rate is not None else ""  # no rate before any outcome

    return _block(
        [
            _kv("Events received", fmt.count(m.events_received)),
            _kv("Events processed", fmt.count(m.events_processed)),
            _kv("Event rate", fmt.rate(m.event_rate)),
            _kv("Files processed", f"{fmt.count(fig.processed)} ({fmt.rate(m.file_rate)})"),
            _kv("Successful", f"{fmt.count(fig.successful)}{share(fig.success_rate)}"),
            _kv(
                "Failed",
                f"{fmt.count(fig.failed)}{share(fig.failure_rate)}",
                "$text-error" if fig.failed else "",
            ),
            _kv("Error records", fmt.count(fig.error_records)),
            _kv("Skipped (unchanged)", fmt.count(m.skipped_unchanged)),
            _kv("Bytes processed", format_size(m.bytes_processed)),
            _kv(
                "Duration",
                " · ".join(
                    f"{label} {format_duration(value_ms / 1000)}"
                    for label, value_ms in (
                        ("min", m.duration_min_ms),
                        ("avg", m.duration_avg_ms),
                        ("p50", m.duration_p50_ms),
                        ("p95", m.duration_p95_ms),
                        ("max", m.duration_max_ms),
                    )
                ),
            ),
            _kv("Queue depth", fmt.count(m.queue_depth)),
            _kv("Watcher overflows", fmt.count(m.overflows)),
            _kv("Rescans", fmt.count(m.rescans)),
        ]
    )


def buckets_section(snap: EngineSnapshot) -> Content:
    """One line per bucket with its state, mode and message."""
    styles = {
        "watching": "$text-success",
        "polling": "$text-warning",
        "missing": "$text-error",
        "error": "$text-error",
    }
    lines = []
    for b in snap.buckets:
        mode = ", ".join(
            x for x in ("recursive" if b.recursive else "top level", "polling" if b.polling else "") if x
        )
        line = Content.assemble(
            (f"{b.state:<9}", styles.get(b.state, "")), " ", b.path, (f"  ({mode})", "$text-muted")
        )
        lines.append(line)
        if b.message:
            lines.append(Content.styled(f"{'':<10}{b.message}", "$text-warning"))
    return _block(lines)


def queue_section(snap: EngineSnapshot, now: float) -> Content:
    """Counts, running scans and the oldest unfinished files."""
    lines = [queue_counts(snap)]
    for s in snap.scans:
        state = "running" if s.running else "done"
        lines.append(
            Content.assemble(
                ("scan ", "$text-muted"),
                s.bucket,
                f"  {state} ({s.reason}): {fmt.count(s.scanned)} seen, {fmt.count(s.queued)} queued",
            )
        )
    shown = snap.queue_items[:10]
    for item in shown:
        lines.append(
            Content.assemble(
                (f"{item.state:<11}", "$text-muted"),
                (f"{format_span(now - item.since):>6}  ", ""),
                fmt.display_dir(item.path, tuple(b.path for b in snap.buckets)),
                (
                    f"  {item.rule or '–'}" + (f" · attempt {item.attempt}" if item.attempt else ""),
                    "$text-muted",
                ),
            )
        )
    if len(snap.queue_items) > len(shown):
        lines.append(Content.styled(f"… and {len(snap.queue_items) - len(shown):,} more", "$text-muted"))
    return _block(lines)


def breakers_section(snap: EngineSnapshot, now: float) -> Content:
    """One line per rule's circuit breaker."""
    lines = []
    for b in snap.breakers:
        style = {"open": "bold $text-error", "half-open": "$text-warning"}.get(b.state, "$text-success")
        opened = f", opened {format_span(now - b.opened_at)} ago" if b.opened_at else ""
        lines.append(
            Content.assemble(
                (f"{b.state:<10}", style),
                b.rule,
                (f"  {b.failures} failures, {b.waiting} waiting{opened}", "$text-muted"),
            )
        )
    return _block(lines)


def cluster_section(snap: EngineSnapshot, now: float) -> Content:
    """Redis, the queue's figures and one line per host (`obtui --status --cluster`)."""
    view = snap.cluster
    if view is None:
        return _block([])
    lines = [_kv("Redis", view.redis), _kv("This host", view.host), cluster_summary(view)]
    for h in sorted(view.hosts, key=lambda h: (h.name != view.host, h.name)):
        lines.append(
            Content.assemble(
                (f"{'alive' if h.alive else 'gone':<6}", "$text-success" if h.alive else "$text-error"),
                f"{h.name}{' (this host)' if h.name == view.host else ''}",
                (
                    f"  heartbeat {heartbeat_words(h, now)} · in flight {fmt.count(h.in_flight)}"
                    f" · done {fmt.count(h.done)}",
                    "$text-muted",
                ),
            )
        )
    return _block(lines)


class StatusScreen(SnapshotScreen):
    """Everything the snapshot knows, refreshed while visible."""

    app: ObtuiApp

    POLL_NAME = "status-poll"

    def __init__(self) -> None:
        super().__init__(id="status")

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with VerticalScroll(id="status-body"), Container(id="status-columns"):
            for n, column in enumerate(
                (
                    (("engine", "Engine"), ("figures", "Figures")),
                    (
                        ("buckets", "Buckets"),
                        ("queue", "Queue"),
                        ("breakers", "Circuit breakers"),
                        ("cluster", "Cluster"),
                    ),
                )
            ):
                with Vertical(classes="status-column" + (" -second" if n else "")):
                    for key, title in column:
                        section = Static(id=f"status-{key}", classes="section")
                        section.border_title = title
                        yield section
        yield Footer(compact=True)

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width >= WIDE, "-wide")

    def show(self, snap: EngineSnapshot, now: float) -> None:
        """Redraw every section (the snapshot changed, or a second passed for the clocks)."""
        self.app.observe_snapshot(snap)
        config_path = str(self.app.config_path) if self.app.config_path else snap.config_path
        for key, content in (
            ("engine", engine_section(snap, now, config_path)),
            ("figures", figures_section(snap)),
            ("buckets", buckets_section(snap)),
            ("queue", queue_section(snap, now)),
            ("breakers", breakers_section(snap, now)),
            ("cluster", cluster_section(snap, now)),
        ):
            self.query_one(f"#status-{key}", Static).update(content)
        cluster = self.query_one("#status-cluster", Static)
        if cluster.display != (snap.cluster is not None):
            cluster.display = snap.cluster is not None  # cluster mode only
