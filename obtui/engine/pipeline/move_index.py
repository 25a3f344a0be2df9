"""An index of the IN_MOVED_FROM events in watchdog's inotify move grouper, so that a burst of
files moved in costs linear time.

watchdog 7 pairs each IN_MOVED_TO with a queued IN_MOVED_FROM of the same cookie by scanning its
whole event queue from the front, twice per IN_MOVED_TO, calling a Python predicate per event.
In a burst the queue is thousands long: a file moved in from outside has no IN_MOVED_FROM to
find, and the rename that writes a note next to its file (temporary name -> note) has its
IN_MOVED_FROM at the very end, behind the whole burst. Either way every event scanned the
queue: quadratic, on the inotify thread that shares the GIL with the engine.

`install()` wraps the grouper's methods with an index, cookie -> the IN_MOVED_FROM events queued
with it. No entry: nothing to pair with, no scan. An entry: the event is looked for by identity
from the queue's tail, where a rename's first half just went. The index never misses an event
(an entry goes in before its event is queued and out after it left), but it may hold an event
that left the queue another way (watchdog purges a removed folder's events): then the tail
search does not find it and watchdog's own scan answers. So the answer is never wrong, only the
scan is saved. If watchdog's grouper is not what this expects (another version), nothing is
changed.
"""

from __future__ import annotations

import threading
from typing import Any

_installed = False
_lock = threading.Lock()
TAIL = 64  # how far from the queue's end a rename's first half is looked for


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
            from watchdog.utils.delayed_queue import DelayedQueue
        except ImportError:  # not Linux, or another watchdog layout
            return False
        cls: Any = InotifyMoveEventGrouper
        names = ("put_event", "read_event", "_group_moved_to_event", "get_queued_moved_from_event")
        if not all(callable(getattr(cls, n, None)) for n in names):
            return False
        probe: Any = DelayedQueue(0)
        if not (hasattr(probe, "_queue") and hasattr(probe, "_lock")):
            return False
        put, read, group, get = (getattr(cls, n) for n in names)

        def index(self: Any) -> tuple[threading.Lock, dict[int, list[Any]]]:
            state = self.__dict__.get("_obtui_moved_from")
            if state is None:
                state = self.__dict__.setdefault("_obtui_moved_from", (threading.Lock(), {}))
            return state  # type: ignore[no-any-return]

        def forget(self: Any, event: Any) -> None:
            lock, idx = index(self)
            with lock:
                queued = idx.get(event.ev.cookie)
                if queued is not None:
                    queued[:] = [e for e in queued if e is not event]
                    if not queued:
                        del idx[event.ev.cookie]

        def first(self: Any, cookie: int) -> Any:
            lock, idx = index(self)
            with lock:
                queued = idx.get(cookie)
                return queued[0] if queued else None

        def in_tail(self: Any, event: Any, remove: bool) -> bool:
            """Whether `event` is among the queue's last TAIL entries (removing it if asked)."""
            q = self._queue
            with q._lock:
                entries = q._queue
                for i in range(len(entries) - 1, max(len(entries) - TAIL, 0) - 1, -1):
                    if entries[i][0] is event:
                        if remove:
                            del entries[i]
                        return True
            return False

        def put_event(self: Any, event: Any) -> None:
            if event.ev.is_moved_from:
                lock, idx = index(self)
                with lock:
                    idx.setdefault(event.ev.cookie, []).append(event)
            put(self, event)

        def read_event(self: Any) -> Any:
            event = read(self)
            if isinstance(event, PathedInotifyEvent) and event.ev.is_moved_from:
                forget(self, event)
            return event

        def group_moved_to_event(self: Any, to_event: Any) -> Any:
            from_event = first(self, to_event.ev.cookie)
            if from_event is None:
                return to_event  # moved in from outside: no IN_MOVED_FROM to pair with
            if in_tail(self, from_event, remove=True):
                forget(self, from_event)
                return (from_event, to_event)
            grouped = group(self, to_event)  # not near the end: watchdog's own scan
            if isinstance(grouped, tuple):  # its IN_MOVED_FROM left the queue
                forget(self, grouped[0])
            return grouped

        def get_queued_moved_from_event(self: Any, cookie: int) -> Any:
            from_event = first(self, cookie)
            if from_event is None:
                return None
            return from_event if in_tail(self, from_event, remove=False) else get(self, cookie)

        cls.put_event = put_event
        cls.read_event = read_event
        cls._group_moved_to_event = group_moved_to_event
        cls.get_queued_moved_from_event = get_queued_moved_from_event
        _installed = True
        return True
