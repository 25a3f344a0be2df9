"""The main screen: four panes fed from the engine's snapshot by a poll timer this screen owns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header

from obtui.api.snapshot import EngineSnapshot
from obtui.tui.widgets.dirs_pane import DirsPane
from obtui.tui.widgets.errors_pane import ErrorsPane
from obtui.tui.widgets.metrics_pane import MetricsPane
from obtui.tui.widgets.queue_pane import QueuePane

if TYPE_CHECKING:
    from obtui.tui.app import ObtuiApp


class DashboardScreen(Screen[None]):
    """Metrics, queue, recent errors and directories. Polls `host.snapshot()` while visible."""

    app: ObtuiApp

    AUTO_FOCUS = ""  # no table cursor until the user tabs into a pane (None would inherit "*")

    def __init__(self) -> None:
        super().__init__(id="dashboard")
        self._version: int | None = None
        self._second: int | None = None
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Vertical(id="panes"):
            with Horizontal(id="top-row"):
                yield MetricsPane(id="metrics", classes="pane")
                yield QueuePane(id="queue", classes="pane")
            with Horizontal(id="bottom-row"):
                yield ErrorsPane(id="recent-errors", classes="pane")
                yield DirsPane(id="dirs", classes="pane")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.poll()
        if self.app.poll_interval:
            self._timer = self.set_interval(self.app.poll_interval, self.poll, name="engine-poll")

    def on_screen_suspend(self) -> None:
        if self._timer is not None:
            self._timer.pause()

    def on_screen_resume(self) -> None:
        if self._timer is not None:
            self._timer.resume()
        # Coming back (escape): draw what was on screen first, then catch up with the engine,
        # so the key is answered by one frame and not by a frame plus a poll.
        self.call_after_refresh(self.poll)

    def poll(self) -> None:
        """Read the engine's snapshot; redraw when it changed, or each second for the clocks."""
        snap = self.app.host.snapshot()
        now = self.app.clock()
        second = int(now)
        if snap.version == self._version and second == self._second:
            return
        self._version, self._second = snap.version, second
        self.show(snap, now)

    def show(self, snap: EngineSnapshot, now: float) -> None:
        """Push `snap` into every pane and the header."""
        self.app.observe_snapshot(snap)
        self.query_one(MetricsPane).show(snap, now)
        self.query_one(QueuePane).show(snap, now)
        self.query_one(ErrorsPane).show(snap, now)
        self.query_one(DirsPane).show(snap, now)

    @on(ErrorsPane.Selected)
    def _open_error(self, event: ErrorsPane.Selected) -> None:
        self.app.open_error(event.error_id, event.summary)
