"""Decide when a file is complete.

- Closed after writing, or moved into the bucket: ready at once.
- Created and then quiet (no close yet): after `debounce` we look again. With native events we ask
  /proc whether a writer still holds it open; a writer that pauses is never processed mid-write.
  With polling (NFS, SMB) there is no close event, so `debounce` of quiet with a stable size
  makes it ready, and `max_delay` caps the wait for a file that changes non-stop.
- Deleted while settling: forgotten silently (it never was a complete drop).

Runs on the engine loop; every method must be called from it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from obtui.engine.jobs import ReadyReason, SettleKind
from obtui.engine.pipeline.openfiles import is_open_for_write

# After a file became ready, a late "created" for it (watchdog simulates those for the contents
# of a folder moved in) is a duplicate for this long.
_RECENT_SECONDS = 5.0


@dataclass
class _Entry:
    first: float
    last: float
    since_wall: float
    polling: bool
    size: int = -1
    timer: asyncio.TimerHandle | None = None
    checking: bool = False
    waits: int = field(default=0)


class Settler:
    """Per-path readiness tracking. `on_ready(path, reason)` is called once per completed file."""

    def __init__(
        self,
        on_ready: Callable[[str, ReadyReason], None],
        *,
        debounce: float,
        max_delay: float,
        open_check: Callable[[str], bool | None] = is_open_for_write,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._on_ready = on_ready
        self.debounce = debounce
        self.max_delay = max_delay
        self._open_check = open_check
        self._clock = clock
        self._wall = wall
        self._entries: dict[str, _Entry] = {}
        self._recent: dict[str, float] = {}
        self._loop = asyncio.get_running_loop()

    def __contains__(self, path: str) -> bool:
        return path in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> list[tuple[str, float]]:
        """(path, wall time first seen) for every file still settling."""
        return [(p, e.since_wall) for p, e in self._entries.items()]

    def configure(self, debounce: float, max_delay: float) -> None:
        self.debounce, self.max_delay = debounce, max_delay

    def feed(self, path: str, kind: SettleKind, *, polling: bool = False) -> None:
        """Take one filesystem event for a file."""
        now = self._clock()
        if kind == "closed" or kind == "moved_in":
            self._ready(path, kind, now)
            return
        if kind == "deleted":
            self.forget(path)
            return
        if kind == "created" and not polling and now - self._recent.get(path, -1e9) < _RECENT_SECONDS:
            return
        entry = self._entries.get(path)
        if entry is None:
            entry = self._entries[path] = _Entry(now, now, self._wall(), polling)
            self._arm(path, entry, self.debounce)
            return
        entry.last = now
        if polling and now - entry.first >= self.max_delay:
            self._ready(path, "max_delay", now)

    def forget(self, path: str) -> None:
        entry = self._entries.pop(path, None)
        if entry and entry.timer:
            entry.timer.cancel()

    def clear(self) -> None:
        for path in list(self._entries):
            self.forget(path)

    def _ready(self, path: str, reason: ReadyReason, now: float) -> None:
        self.forget(path)
        self._recent[path] = now
        if len(self._recent) > 50_000:
            cutoff = now - _RECENT_SECONDS
            self._recent = {p: t for p, t in self._recent.items() if t >= cutoff}
        self._on_ready(path, reason)

    def _arm(self, path: str, entry: _Entry, delay: float) -> None:
        entry.timer = self._loop.call_later(max(delay, 0.001), self._check, path)

    def _check(self, path: str) -> None:
        entry = self._entries.get(path)
        if entry is None or entry.checking:
            return
        entry.timer = None
        now = self._clock()
        capped = entry.polling and now - entry.first >= self.max_delay
        quiet_for = now - entry.last
        if quiet_for < self.debounce and not capped:
            self._arm(path, entry, self.debounce - quiet_for)
            return
        try:
            size = os.stat(path).st_size
        except OSError:
            self.forget(path)  # gone before it was ever complete
            return
        if size != entry.size and not capped:
            entry.size, entry.last = size, now
            wait = self.debounce
            if entry.polling:
                wait = min(wait, max(self.max_delay - (now - entry.first), 0.0))
            self._arm(path, entry, wait)
            return
        if entry.polling or capped:
            self._ready(path, "max_delay" if capped else "quiet", now)
            return
        entry.checking = True
        fut = self._loop.run_in_executor(None, self._open_check, path)
        fut.add_done_callback(lambda f: self._after_open_check(path, entry, f))

    def _after_open_check(self, path: str, entry: _Entry, fut: asyncio.Future[bool | None]) -> None:
        entry.checking = False
        if self._entries.get(path) is not entry:
            return
        still_open = fut.result() if not fut.cancelled() and fut.exception() is None else None
        if still_open:
            entry.waits += 1
            # Back off gently for writers that pause a long time.
            self._arm(path, entry, min(self.debounce * (1 + entry.waits), 5.0))
            return
        self._ready(path, "quiet", self._clock())
