"""The main screen: four panes (five on a cluster host) fed from the engine's snapshot by a poll timer this screen owns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header

from obtui.api.snapshot import EngineSnapshot
from obtui.tui.screens.polling import SnapshotScreen
from obtui.tui.widgets.cluster_pane import ClusterPane
from obtui.tui.widgets.dirs_pane import DirsPane
from obtui.tui.widgets.errors_pane import ErrorsPane
from obtui.tui.widgets.metrics_pane import MetricsPane
from obtui.tui.widgets.queue_pane import QueuePane

if TYPE_CHECKING:
    from obtui.tui.app import ObtuiApp


class DashboardScreen(SnapshotScreen):
    """Metrics, queue, recent errors, directories and, on a cluster host, the cluster. Polls `host.snapshot()` while visible."""

    app: ObtuiApp

    AUTO_FOCUS = ""  # no table cursor until the user tabs into a pane (None would inherit "*")

    def __init__(self) -> None:
        super().__init__(id="dashboard")

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Vertical(id="panes"):
            with Horizontal(id="top-row"):
                yield MetricsPane(id="metrics", classes="pane")
                yield QueuePane(id="queue", classes="pane")
            with Horizontal(id="bottom-row"):
                yield ErrorsPane(id="recent-errors", classes="pane")
                yield DirsPane(id="dirs", classes="pane")
            yield ClusterPane(id="cluster", classes="pane")  # shown only in cluster mode
        yield Footer(compact=True)

    def show(self, snap: EngineSnapshot, now: float) -> None:
        """Push `snap` into every pane and the header."""
        self.app.observe_snapshot(snap)
        self.query_one(MetricsPane).show(snap, now)
        self.query_one(QueuePane).show(snap, now)
        self.query_one(ErrorsPane).show(snap, now)
        self.query_one(DirsPane).show(snap, now)
        panes = self.query_one("#panes", Vertical)
        if panes.has_class("-cluster") != (snap.cluster is not None):
            panes.set_class(snap.cluster is not None, "-cluster")  # shows the Cluster pane
        if snap.cluster is not None:
            self.query_one(ClusterPane).show(snap.cluster, now)

    @on(ErrorsPane.Selected)
    def _open_error(self, event: ErrorsPane.Selected) -> None:
        self.app.open_error(event.error_id, event.summary)
