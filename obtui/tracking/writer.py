"""The asyncio side of the record store: one daemon thread that group-commits.

`await writer.commit(record, entry)` queues the record and waits on a future; the thread takes
everything queued (up to `max_batch` items), commits it in one transaction with
`store.commit_batch`, and resolves the batch's futures on their loop with one
`call_soon_threadsafe`. The
event loop never blocks on SQLite. Queued work runs in order: a `call` queued after a commit
runs after that commit.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from obtui.tracking.interfaces import RecordStore
from obtui.tracking.records import ErrorRecord, ManifestEntry, SuccessRecord

log = logging.getLogger(__name__)

T = TypeVar("T")
Record = SuccessRecord | ErrorRecord


@dataclass
class _Job:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    record: Record | None = None
    entry: ManifestEntry | None = None
    many: list[tuple[Record, ManifestEntry | None]] | None = None  # commit_many: one future
    fn: Callable[..., Any] | None = None
    args: tuple[Any, ...] = ()


_STOP = object()


class WriterClosedError(RuntimeError):
    """The writer was closed; nothing more can be committed through it."""


class RecordWriter:
    """Group-committing writer thread in front of a `RecordStore`."""

    def __init__(self, store: RecordStore, max_batch: int = 500) -> None:
        self.store = store
        self.max_batch = max_batch
        self.batches = 0  # transactions committed (for tests and diagnostics)
        self.committed = 0  # records committed
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closing = False
        self._done: asyncio.Future[None] | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the writer thread (idempotent; `commit` and `call` also start it)."""
        with self._lock:
            self._start_locked()

    def _start_locked(self) -> None:
        if self._closing:
            raise WriterClosedError("the record writer is closed")
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="obtui-record-writer", daemon=True)
            self._thread.start()

    def pending(self) -> int:
        """Items queued and not yet taken by the thread (approximate)."""
        return self._queue.qsize()

    async def commit(self, record: Record, entry: ManifestEntry | None = None) -> Record:
        """Commit `record` (and `entry`) in the next group commit; return the record with its id.

        Store failures (disk full, a locked database, ...) are raised here."""
        return await self._submit(_Job(*self._new_future(), record=record, entry=entry))

    async def commit_many(self, items: Sequence[tuple[Record, ManifestEntry | None]]) -> list[Record]:
        """`commit` for a batch, with one future: all in the same transaction (and the same group
        commit as whatever else is queued); the records come back with their ids, in order."""
        if not items:
            return []
        return await self._submit(_Job(*self._new_future(), many=list(items)))  # type: ignore[no-any-return]

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` (e.g. `store.set_manifest_status`) on the writer thread, in queue order."""
        return await self._submit(_Job(*self._new_future(), fn=fn, args=args))

    async def close(self) -> None:
        """Commit everything queued, then stop the thread; waits without blocking the loop.
        Safe to call twice."""
        loop = asyncio.get_running_loop()
        with self._lock:
            thread = self._thread
            if not self._closing:
                self._closing = True
                if thread is not None:
                    self._done = loop.create_future()
                    self._queue.put((_STOP, loop, self._done))
        if thread is None:
            return
        if self._done is not None and self._done.get_loop() is loop:
            await asyncio.shield(self._done)
            thread.join()  # it has left its loop already: this returns at once
        else:
            await asyncio.to_thread(thread.join)

    def _new_future(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]:
        loop = asyncio.get_running_loop()
        return loop, loop.create_future()

    async def _submit(self, job: _Job) -> Any:
        with self._lock:
            self._start_locked()
            self._queue.put(job)
        return await job.future

    # ---- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            while len(items) < self.max_batch:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = None
            commits: list[_Job] = []
            for item in items:
                if isinstance(item, tuple):  # the stop marker: everything before it is done below
                    stop = item
                elif item.fn is None:
                    commits.append(item)
                else:
                    self._commit(commits)
                    commits = []
                    self._call(item)
            self._commit(commits)
            if stop is not None:
                _, loop, done = stop
                _resolve(loop, done, None, None)
                return

    def _commit(self, jobs: list[_Job]) -> None:
        if not jobs:
            return
        items: list[tuple[Record, ManifestEntry | None]] = []
        for j in jobs:
            items.extend(j.many if j.many is not None else [(j.record, j.entry)])  # type: ignore[list-item]
        try:
            saved = self.store.commit_batch(items)
        except Exception as exc:
            if len(jobs) == 1:
                _resolve(jobs[0].loop, jobs[0].future, None, exc)
                return
            # One bad item must not fail its neighbours: retry one by one, each in its own
            # transaction (a full disk fails them all anyway).
            log.warning("group commit of %d records failed (%s); committing one by one", len(items), exc)
            for j in jobs:
                self._commit([j])
            return
        self.batches += 1
        self.committed += len(saved)
        if len(saved) != len(items):  # a broken store must not kill this thread
            wrong = RuntimeError(f"the store returned {len(saved)} records for {len(items)}")
            for j in jobs:
                _resolve(j.loop, j.future, None, wrong)
            return
        # One wake-up of each waiting loop for the whole batch, not one per record.
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
        at = 0
        for j in jobs:
            if j.many is not None:
                value: Any = saved[at : at + len(j.many)]
                at += len(j.many)
            else:
                value = saved[at]
                at += 1
            by_loop.setdefault(j.loop, []).append((j.future, value))
        for loop, results in by_loop.items():
            _resolve_all(loop, results)

    def _call(self, job: _Job) -> None:
        try:
            result = job.fn(*job.args)  # type: ignore[misc]
        except Exception as exc:
            _resolve(job.loop, job.future, None, exc)
        else:
            _resolve(job.loop, job.future, result, None)


def _resolve_all(loop: asyncio.AbstractEventLoop, results: list[tuple[asyncio.Future[Any], Any]]) -> None:
    def settle() -> None:
        for fut, value in results:
            if not fut.done():  # the awaiting task was cancelled; the work itself was done
                fut.set_result(value)

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:  # that loop is closed: nobody is waiting any more
        pass


def _resolve(
    loop: asyncio.AbstractEventLoop, fut: asyncio.Future[Any], value: Any, exc: BaseException | None
) -> None:
    def settle() -> None:
        if fut.done():  # the awaiting task was cancelled; the work itself was done
            return
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(value)

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:  # that loop is closed: nobody is waiting any more
        pass
