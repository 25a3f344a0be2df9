"""`SnapshotScreen`: a screen that follows the engine's snapshot while it is visible.

The one place that polls `host.snapshot()` and decides "is there anything new?"; a screen says
what counts as new (`snapshot_key`) and how to draw it (`show`).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING

from textual.screen import Screen
from textual.timer import Timer

from obtui.api.snapshot import EngineSnapshot

if TYPE_CHECKING:
    from obtui.tui.app import ObtuiApp

_NOTHING_SEEN = object()


class SnapshotScreen(Screen[None]):
    """Polls the engine every `app.poll_interval` seconds (never when it is None, as in tests),
    paused while another screen covers this one, and calls `show` only when `snapshot_key`
    changed."""

    app: ObtuiApp

    POLL_NAME = "engine-poll"  # the timer's name
    MIN_POLL_SECONDS = 0.0  # a screen whose `show` costs more can poll less often

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id)
        self._seen: Hashable = _NOTHING_SEEN
        self._timer: Timer | None = None

    def snapshot_key(self, snap: EngineSnapshot, now: float) -> Hashable:
        """What must change for `show` to run: by default the version, or the second (clocks)."""
        return (snap.version, int(now))

    def show(self, snap: EngineSnapshot, now: float) -> None:
        """Draw `snap`; `now` is the app's clock."""
        raise NotImplementedError

    def on_mount(self) -> None:
        # Textual calls this after a subclass's own on_mount (handlers run along the MRO):
        # a subclass must not call it again.
        self.poll()
        interval = self.app.poll_interval
        if interval:
            self._timer = self.set_interval(
                max(self.MIN_POLL_SECONDS, interval), self.poll, name=self.POLL_NAME
            )

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
        """Read the engine's snapshot; call `show` when there is something new in it."""
        snap = self.app.host.snapshot()
        now = self.app.clock()
        key = self.snapshot_key(snap, now)
        if key == self._seen:
            return
        self._seen = key
        self.show(snap, now)
