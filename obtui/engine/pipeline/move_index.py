"""A cookie count for watchdog's inotify move grouper, so that a burst of files moved in from
outside costs linear time.

watchdog 7 pairs each IN_MOVED_TO with a queued IN_MOVED_FROM of the same cookie by scanning its
whole event queue, twice per IN_MOVED_TO. A file moved in from outside the watched tree has no
IN_MOVED_FROM to find, so in a burst every event scans a queue thousands long: quadratic, and on
the inotify thread that shares the GIL with the engine. `install()` wraps the grouper's methods
with a count of the IN_MOVED_FROM cookies it holds: when the count for a cookie is zero there is
nothing to pair with and the scan is skipped; otherwise watchdog's own code runs unchanged. The
count never undercounts (it goes up before an event is queued and down after it left the queue),
so the answer is never wrong, only the scan is saved. If watchdog's grouper is not what this
expects (another version), nothing is changed.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

_installed = False
_lock = threading.Lock()


def install() -> bool:
    """Wrap the grouper once per process; True when the index is in place."""
    global _installed
    with _lock:
        if _installed:
            return True
        try:
            from watchdog.observers.inotify_move_event_grouper import (
                InotifyMoveEventGrouper,
                PathedInotifyEvent,
            )
        except ImportError:  # not Linux, or another watchdog layout
            return False
        cls: Any = InotifyMoveEventGrouper
        names = ("put_event", "read_event", "_group_moved_to_event", "get_queued_moved_from_event")
        if not all(callable(getattr(cls, n, None)) for n in names):
            return False
        put, read, group, get = (getattr(cls, n) for n in names)

        def counts(self: Any) -> tuple[threading.Lock, Counter[int]]:
            state = self.__dict__.get("_obtui_cookies")
            if state is None:
                state = self.__dict__.setdefault("_obtui_cookies", (threading.Lock(), Counter()))
            return state  # type: ignore[no-any-return]

        def drop(self: Any, cookie: int) -> None:
            lock, c = counts(self)
            with lock:
                if c[cookie] <= 1:
                    c.pop(cookie, None)
                else:
                    c[cookie] -= 1

        def held(self: Any, cookie: int) -> bool:
            lock, c = counts(self)
            with lock:
                return c.get(cookie, 0) > 0

        def put_event(self: Any, event: Any) -> None:
            if event.ev.is_moved_from:
                lock, c = counts(self)
                with lock:
                    c[event.ev.cookie] += 1
            put(self, event)

        def read_event(self: Any) -> Any:
            event = read(self)
            if isinstance(event, PathedInotifyEvent) and event.ev.is_moved_from:
                drop(self, event.ev.cookie)
            return event

        def group_moved_to_event(self: Any, to_event: Any) -> Any:
            cookie = to_event.ev.cookie
            if not held(self, cookie):
                return to_event  # moved in from outside: no IN_MOVED_FROM to pair with
            grouped = group(self, to_event)
            if isinstance(grouped, tuple):  # its IN_MOVED_FROM left the queue
                drop(self, cookie)
            return grouped

        def get_queued_moved_from_event(self: Any, cookie: int) -> Any:
            return get(self, cookie) if held(self, cookie) else None

        cls.put_event = put_event
        cls.read_event = read_event
        cls._group_moved_to_event = group_moved_to_event
        cls.get_queued_moved_from_event = get_queued_moved_from_event
        _installed = True
        return True
