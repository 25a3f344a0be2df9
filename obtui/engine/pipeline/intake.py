"""From raw filesystem events to ready jobs.

Filters out what no rule takes (our own outputs, temp and hidden names, ignores) before anything
is tracked, feeds the rest to the settler, and turns completed files into dispatcher jobs.
Also settles dropped top-level folders for folder-summary rules, and takes the candidates of
reconciliation scans.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Coroutine
from typing import Any

from obtui.engine.jobs import EventKind, Job, ReadyReason, SettleKind
from obtui.engine.pipeline.dispatcher import Dispatcher
from obtui.engine.pipeline.metrics import MetricsCollector
from obtui.engine.pipeline.patterns import Matcher
from obtui.engine.pipeline.scanner import Candidate
from obtui.engine.pipeline.settle import Settler
from obtui.engine.pipeline.watcher import RawEvent

log = logging.getLogger("obtui.intake")


def rel_of(bucket: str, path: str) -> str | None:
    """`path` relative to `bucket`, '/'-separated; None when it is not below it."""
    if not path.startswith(bucket) or len(path) <= len(bucket) or path[len(bucket)] != os.sep:
        return None
    rel = path[len(bucket) + 1 :]
    return rel.replace(os.sep, "/") if os.sep != "/" else rel


class Intake:
    """Runs on the engine loop."""

    def __init__(
        self,
        *,
        matcher: Callable[[], Matcher],
        dispatcher: Dispatcher,
        metrics: MetricsCollector,
        debounce: float,
        max_delay: float,
        polling: Callable[[str], bool],
        on_bucket_gone: Callable[[str], None],
        held_back: Callable[[str], bool],
    ) -> None:
        """`held_back(path)`: the processor holds that file (retry backoff), so scans skip it."""
        self._matcher = matcher
        self._dispatcher = dispatcher
        self._metrics = metrics
        self._polling = polling
        self._on_bucket_gone = on_bucket_gone
        self._held_back = held_back
        self.settler = Settler(self._ready, debounce=debounce, max_delay=max_delay)
        self._bucket_of: dict[str, str] = {}
        self._folders: dict[tuple[str, str], float] = {}  # (bucket, top folder) -> last event
        self._folder_timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def configure(self, debounce: float, max_delay: float) -> None:
        self.settler.configure(debounce, max_delay)

    # -- events ---------------------------------------------------------------------------

    def on_events(self, batch: list[RawEvent]) -> None:
        """The watcher's sink: one call per drained batch."""
        self._metrics.event(len(batch))
        matcher = self._matcher()
        for ev in batch:
            bucket = ev.bucket
            if ev.kind == "root_deleted":
                self._on_bucket_gone(bucket)
                continue
            rel = rel_of(bucket, ev.path)
            if rel is None:
                continue
            if self._folders or "/" not in rel:
                self._touch_folder(bucket, rel, ev.kind, matcher)
            match ev.kind:
                case "dir_moved_in":
                    self._spawn(self._moved_in_folder(bucket, ev.path))
                case "dir_created" | "dir_deleted" | "root_deleted":
                    pass
                case "deleted":
                    self.settler.feed(ev.path, "deleted")
                    self._bucket_of.pop(ev.path, None)
                case "created" | "modified" | "closed" | "moved_in" as kind:
                    if matcher.match(bucket, rel) is not None:
                        self._bucket_of[ev.path] = bucket
                        self.settler.feed(ev.path, kind, polling=self._polling(bucket))

    def _ready(self, path: str, reason: ReadyReason) -> None:
        bucket = self._bucket_of.pop(path, None)
        if bucket is None:
            return
        rel = rel_of(bucket, path)
        if rel is None:
            return
        self._metrics.ready()
        self._dispatcher.submit(Job(path=path, bucket=bucket, rel=rel, reason=reason))

    def settle(self, bucket: str, path: str, kind: SettleKind) -> None:
        """Feed a file found by a scan (recently modified, so it may still be written)."""
        self._bucket_of[path] = bucket
        self.settler.feed(path, kind, polling=self._polling(bucket))

    async def accept_scan(self, bucket: str, batch: list[Candidate]) -> None:
        """Take a scan's candidates: skip what the pipeline already holds, let recently
        modified files settle, queue the rest (waiting for room: scans can afford to)."""
        d = self._dispatcher
        for c in batch:
            if c.path in self.settler or d.busy(c.path) or c.path in d.queue:
                continue
            if self._held_back(c.path):
                continue
            if c.recent and not c.is_dir:
                self.settle(bucket, c.path, "created")
                continue
            await d.submit_wait(Job(c.path, bucket, c.rel, "scan", is_dir=c.is_dir))

    def forget_bucket(self, bucket: str) -> None:
        prefix = bucket + os.sep
        for path, _since in self.settler.items():
            if path.startswith(prefix):
                self.settler.forget(path)
                self._bucket_of.pop(path, None)

    # -- dropped folders ------------------------------------------------------------------

    async def _moved_in_folder(self, bucket: str, folder: str) -> None:
        """A folder moved in is complete: every file in it is ready now."""
        matcher = self._matcher()

        def walk() -> list[str]:
            found: list[str] = []
            for root, dirs, files in os.walk(folder):
                rel_root = rel_of(bucket, root)
                if rel_root is None:
                    continue
                dirs[:] = [d for d in dirs if not matcher.dir_pruned(bucket, f"{rel_root}/{d}")]
                found.extend(os.path.join(root, f) for f in files)
            return found

        for path in await asyncio.to_thread(walk):
            rel = rel_of(bucket, path)
            if rel is not None and matcher.match(bucket, rel) is not None:
                self._bucket_of[path] = bucket
                self.settler.feed(path, "moved_in")

    def _touch_folder(self, bucket: str, rel: str, kind: EventKind, matcher: Matcher) -> None:
        top, _, rest = rel.partition("/")
        key = (bucket, top)
        if not rest:
            if kind in ("dir_created", "dir_moved_in") and matcher.folder_rule(bucket, top) is not None:
                self._folders[key] = time.monotonic()
                self._arm_folders()
            elif kind in ("dir_deleted",):
                self._folders.pop(key, None)
            return
        if key in self._folders:
            self._folders[key] = time.monotonic()

    def _arm_folders(self) -> None:
        if self._folder_timer is None:
            delay = max(self.settler.debounce, 0.05)
            self._folder_timer = asyncio.get_running_loop().call_later(delay, self._check_folders)

    def _check_folders(self) -> None:
        self._folder_timer = None
        now = time.monotonic()
        for (bucket, top), last in list(self._folders.items()):
            folder = os.path.join(bucket, top)
            busy = any(p.startswith(folder + os.sep) for p, _ in self.settler.items())
            if now - last >= self.settler.debounce and not busy:
                del self._folders[(bucket, top)]
                if os.path.isdir(folder):
                    self._metrics.ready()
                    self._dispatcher.submit(
                        Job(path=folder, bucket=bucket, rel=top, reason="quiet", is_dir=True)
                    )
        if self._folders:
            self._arm_folders()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        self.settler.clear()
        if self._folder_timer:
            self._folder_timer.cancel()
        for t in self._tasks:
            t.cancel()
