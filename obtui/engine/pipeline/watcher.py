"""One watchdog observer per bucket, bridged into the engine loop.

The watchdog handler runs on the observer's thread and must never block, or the kernel queue
overflows: it appends a tuple to a deque and, at most once per batch, schedules a drain on the
engine loop with `call_soon_threadsafe`. Overflows are never handed to handlers by watchdog 7 (it
only logs a warning), so a logging handler turns that warning into a rescan request.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from obtui.engine.jobs import EventKind

log = logging.getLogger("obtui.watcher")

# Opened/ClosedNoWrite/Modified are left out on purpose: our own reads would double the event
# load, and the inotify rebuild after an overflow floods the queue with directory opens.
NATIVE_FILTER = [
    FileCreatedEvent,
    FileMovedEvent,
    FileDeletedEvent,
    FileClosedEvent,
    DirCreatedEvent,
    DirMovedEvent,
    DirDeletedEvent,
]


@dataclass(frozen=True)
class RawEvent:
    """A filesystem event reduced to what the engine needs."""

    bucket: str
    kind: EventKind
    path: str


class _Bridge(FileSystemEventHandler):
    def __init__(self, watcher: BucketWatcher) -> None:
        self._w = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        w = self._w
        src = os.fsdecode(event.src_path)
        dest = os.fsdecode(event.dest_path) if event.dest_path else ""
        et = event.event_type
        is_dir = event.is_directory
        out = w.pending
        if et == "moved":
            if src:
                out.append(("dir_deleted" if is_dir else "deleted", src))
            if dest:
                out.append(("dir_moved_in" if is_dir else "moved_in", dest))
        elif et == "closed":
            out.append(("closed", src))
        elif et == "created":
            out.append(("dir_created" if is_dir else "created", src))
        elif et == "modified":
            if is_dir:
                return
            out.append(("modified", src))
        elif et == "deleted":
            out.append(
                ("root_deleted" if is_dir and src == w.path else "dir_deleted" if is_dir else "deleted", src)
            )
        else:
            return
        w.wake()


class BucketWatcher:
    """Watches one bucket. `sink` receives lists of RawEvent on the engine loop."""

    def __init__(
        self,
        path: str,
        *,
        recursive: bool,
        poll_seconds: float,
        loop: asyncio.AbstractEventLoop,
        sink: Callable[[list[RawEvent]], None],
    ) -> None:
        self.path = path
        self.recursive = recursive
        self.poll_seconds = poll_seconds
        self.polling = poll_seconds > 0
        self.message: str | None = None
        self.pending: deque[tuple[EventKind, str]] = deque()
        self._loop = loop
        self._sink = sink
        self._scheduled = False
        self._lock = threading.Lock()
        self._observer: BaseObserver | None = None

    def start(self) -> None:
        """Start observing. Falls back to polling, with a message, when inotify cannot start."""
        if not self.polling:
            try:
                self._observer = self._start_observer(native=True)
                return
            except OSError as exc:
                self.polling = True
                self.message = _native_failure_message(exc, self.path)
                log.warning("%s", self.message)
                if not self.poll_seconds:
                    self.poll_seconds = 2.0
        self._observer = self._start_observer(native=False)

    def _start_observer(self, native: bool) -> BaseObserver:
        observer: BaseObserver
        if native:
            from watchdog.observers.inotify import InotifyObserver

            from obtui.engine.pipeline import move_index

            move_index.install()  # a burst of moves-in costs linear time, not quadratic
            # Full events: a file moved in from elsewhere arrives as a move with an empty source
            # instead of a bare create, so we know it is complete.
            observer = InotifyObserver(generate_full_events=True)
            observer.schedule(_Bridge(self), self.path, recursive=self.recursive, event_filter=NATIVE_FILTER)
        else:
            observer = PollingObserver(timeout=self.poll_seconds)
            observer.schedule(_Bridge(self), self.path, recursive=self.recursive)
        observer.daemon = True
        try:
            observer.start()
        except BaseException:
            _stop(observer)
            raise
        return observer

    def wake(self) -> None:
        """Called from the observer thread: schedule one drain for the whole batch."""
        with self._lock:
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._drain)
        except RuntimeError:
            pass  # the loop is closed: we are shutting down

    def _drain(self) -> None:
        with self._lock:
            self._scheduled = False
        batch: list[RawEvent] = []
        pending = self.pending
        while pending:
            kind, p = pending.popleft()
            batch.append(RawEvent(self.path, kind, p))
        if batch:
            self._sink(batch)

    @property
    def alive(self) -> bool:
        return self._observer is not None and self._observer.is_alive()

    def stop(self) -> None:
        """Stop and join the observer thread (must happen before the loop closes)."""
        obs, self._observer = self._observer, None
        if obs is not None:
            _stop(obs)


def _stop(observer: BaseObserver) -> None:
    try:
        observer.stop()
        if observer.is_alive():
            observer.join(timeout=10)
    except Exception:  # never let shutdown of one observer stop the others
        log.exception("stopping observer")


def _native_failure_message(exc: OSError, path: str) -> str:
    if exc.errno == errno.ENOSPC:
        limit = _read_sysctl("max_user_watches")
        return (
            f"inotify watch limit reached (fs.inotify.max_user_watches={limit}) watching {path}; "
            "polling instead. Raise it: sudo sysctl fs.inotify.max_user_watches=524288"
        )
    if exc.errno == errno.EMFILE:
        limit = _read_sysctl("max_user_instances")
        return (
            f"inotify instance limit reached (fs.inotify.max_user_instances={limit}) watching {path}; "
            "polling instead. Raise it: sudo sysctl fs.inotify.max_user_instances=512"
        )
    return f"native watching failed for {path} ({exc}); polling instead"


def _read_sysctl(name: str) -> str:
    try:
        with open(f"/proc/sys/fs/inotify/{name}") as f:
            return f.read().strip()
    except OSError:
        return "?"


class OverflowAlarm(logging.Handler):
    """Turns watchdog's 'events were lost' warnings into a callback (thread-safe)."""

    LOGGERS = ("watchdog.observers.inotify_c", "watchdog.observers.inotify")

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self._loop = loop
        self._callback = callback

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if "overflow" in msg.lower() or "lost" in msg or "Unable to rebuild" in msg:
            try:
                self._loop.call_soon_threadsafe(self._callback, msg)
            except RuntimeError:
                pass

    def install(self) -> None:
        for name in self.LOGGERS:
            lg = logging.getLogger(name)
            lg.addHandler(self)
            if lg.level == logging.NOTSET or lg.level > logging.WARNING:
                lg.setLevel(logging.WARNING)

    def uninstall(self) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)
