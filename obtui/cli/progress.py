"""A one-line progress bar for `obtui --headless --once` on a terminal: the start-up scan and the
queue draining, redrawn in place on stderr (plain ANSI; the CLI never loads Rich or Textual).
"""

from __future__ import annotations

import os
import time
from typing import TextIO

from obtui.api.snapshot import EngineSnapshot

REDRAW_SECONDS = 0.1
CLEAR_LINE = "\r\x1b[2K"


def wants_progress(stream: TextIO) -> bool:
    """A bar only where a person watches: a terminal, and not TERM=dumb."""
    try:
        return stream.isatty() and os.environ.get("TERM", "") != "dumb"
    except (AttributeError, ValueError, OSError):
        return False


class ProgressBar:
    """Draws `render(snapshot)` over the previous frame."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time.monotonic()
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        self.full, self.empty = ("█", "░") if encoding == "utf8" else ("#", "-")

    def width(self) -> int:
        try:
            return os.get_terminal_size(self.stream.fileno()).columns or 80
        except (OSError, ValueError, AttributeError):
            return 80

    def render(self, snap: EngineSnapshot, width: int = 80) -> str:
        """`catching up [████░░░░] 120/500 files 24% · 310 files/s · about 1s left · scanning`"""
        m, q = snap.metrics, snap.queue
        done = m.successful + m.failed
        left = q.pending + q.processing + q.settling + q.waiting
        total = done + left
        scanning = [s for s in snap.scans if s.running]
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = done / elapsed
        tail = f" {done:,}/{total:,} files"
        if total:
            tail += f" {100 * done // total}%"
        if rate > 0:
            tail += f" · {rate:,.0f} files/s"
            if left and not scanning and left / rate >= 1:
                tail += f" · about {_seconds(left / rate)} left"
        if m.failed:
            tail += f" · {m.failed:,} failed"
        if scanning:
            tail += f" · scanning ({sum(s.scanned for s in scanning):,} seen)"
        head = "catching up "
        bar_width = max(10, min(30, width // 3))  # steady: the text after it may be cut instead
        filled = bar_width if total and not left and not scanning else bar_width * done // max(total, 1)
        bar = f"[{self.full * filled}{self.empty * (bar_width - filled)}]"
        return (head + bar + tail)[: max(width - 1, 20)]

    def draw(self, snap: EngineSnapshot) -> None:
        self.stream.write(CLEAR_LINE + self.render(snap, self.width()))
        self.stream.flush()

    def finish(self, snap: EngineSnapshot) -> None:
        """The last frame stays on screen; what follows starts on a line of its own."""
        self.draw(snap)
        self.stream.write("\n")
        self.stream.flush()


def _seconds(s: float) -> str:
    s = int(s + 0.5)
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"
