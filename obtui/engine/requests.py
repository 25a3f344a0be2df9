"""The runner's side of client requests (`obtui --retry`, the dashboard's retry keys, `--prune`)
and of retention (`[store] keep`).

Requests are rows in the store (see `tracking/requests.py` for why a polled table); the runner
takes them at start and every `POLL_SECONDS` while it runs. A retry goes through the normal
queue and the idempotency gate: a file already queued or running is left alone (it is being
processed anyway), a file whose latest outcome is no longer a failure is not run again.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shutil
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from obtui.config.model import Config
from obtui.engine.errors import RetryError
from obtui.engine.jobs import Job
from obtui.engine.pipeline.dispatcher import Dispatcher
from obtui.engine.pipeline.intake import rel_of
from obtui.engine.records import error_record
from obtui.tracking.records import ErrorRecord
from obtui.tracking.sqlite_store import SQLiteStore
from obtui.tracking.writer import RecordWriter

if TYPE_CHECKING:
    from obtui.tracking.requests import Request

log = logging.getLogger("obtui.requests")

POLL_SECONDS = 1.0
FULL_POLL_SECONDS = 10.0  # the table is read at least this often, changed files or not
PRUNE_EVERY_SECONDS = 86_400.0


@dataclass
class RequestDeps:
    """What taking requests needs from the engine (all used on the engine loop)."""

    store: SQLiteStore  # read in a thread; written only through `writer`
    writer: RecordWriter
    config: Callable[[], Config]
    dispatcher: Dispatcher
    busy: Callable[[str], bool]  # the path is waiting for a retry backoff (processor.retrying)
    record_error: Callable[[ErrorRecord], Coroutine[Any, Any, None]]
    reload_history: Callable[[], Coroutine[Any, Any, None]]


class Requests:
    """Takes client requests from the store and keeps the records within `[store] keep`."""

    def __init__(self, deps: RequestDeps) -> None:
        self._d = deps

    async def poll(self) -> None:
        """Take requests until cancelled (a live runner). The table is read when the database's
        files changed since the last read (a client adding a request writes them), and at least
        every FULL_POLL_SECONDS: an idle runner does not hop to a thread every second."""
        seen: tuple[tuple[int, int], ...] | None = None
        last = 0.0
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(POLL_SECONDS)
            now, files = loop.time(), _stamps(self._d.store.path)
            if files == seen and now - last < FULL_POLL_SECONDS:
                continue
            seen, last = files, now
            try:
                await self.take()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not take client requests")

    async def take(self) -> int:
        """Carry out every waiting request for this runner's buckets; returns how many were taken.
        A retry for a bucket this runner does not watch stays for a runner that does."""
        from obtui.tracking import requests as rq

        d = self._d
        pending = await asyncio.to_thread(rq.pending_requests, d.store)
        if not pending:
            return 0
        buckets = {str(b.path) for b in d.config().buckets}
        done: list[int] = []
        for req in pending:
            if req.kind == "history":
                await d.reload_history()
            elif req.kind == "retry":
                if req.bucket not in buckets:
                    continue
                await self._retry(req)
            done.append(req.id)
        await d.writer.call(rq.drop_requests, d.store, done)
        return len(done)

    async def _retry(self, req: Request) -> None:
        from obtui.tracking import requests as rq

        d = self._d
        path = req.path
        if path in d.dispatcher.inflight or path in d.dispatcher.queue or d.busy(path):
            log.info("retry of %s: already queued or running", path)
            return
        rel = rel_of(req.bucket, path)
        here = os.path.lexists(path)
        back_from = req.moved_to if not here and req.moved_to and os.path.lexists(req.moved_to) else None
        if rel is None or (not here and back_from is None):
            where = f" nor at {req.moved_to}" if req.moved_to else ""
            await self._record(RetryError(f"Cannot retry {path}: it is no longer there{where}"), req)
            return
        # Forget the failed content first, so neither this job nor the watcher's event for the
        # file coming back is skipped as unchanged; its outcome supersedes the failure.
        if not await d.writer.call(rq.reset_failed, d.store, path):
            log.info("retry of %s: its latest outcome is no longer a failure", path)
            return
        if back_from is not None:
            try:
                await asyncio.to_thread(_move_back, back_from, path)
            except OSError as exc:
                msg = f"Cannot move {back_from} back to {path} for a retry: {exc.strerror or exc}"
                await self._record(RetryError(msg, code=_errno(exc)), req)
                return
            log.info("retry: moved %s back to %s", back_from, path)
        job = Job(path, req.bucket, rel, "retry", is_dir=os.path.isdir(path))
        if not d.dispatcher.submit(job):
            d.dispatcher.requeue_front(job)  # a retry asked for is never left to a later scan

    async def _record(self, exc: RetryError, req: Request) -> None:
        await self._d.record_error(error_record(exc, path=req.path, bucket=req.bucket, rule=None))

    async def keep_pruned(self) -> None:
        """`[store] keep`: prune at start, then once a day (re-reading the setting each time)."""
        while True:
            try:
                await self.prune_now()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not prune old records")
            await asyncio.sleep(PRUNE_EVERY_SECONDS)

    async def prune_now(self) -> None:
        """Remove the records older than `[store] keep` (nothing when it is not set)."""
        from obtui.tracking.retention import cutoff, prune

        d = self._d
        keep = d.config().store.keep
        if not keep:
            return
        result = await d.writer.call(prune, d.store, cutoff(keep))
        if result.removed:
            log.info(
                "[store] keep: removed %d success and %d error record(s) older than %s",
                result.successes,
                result.errors,
                result.before,
            )
            await d.reload_history()


def _move_back(source: str, dest: str) -> None:
    """Move `source` to `dest`, never over an existing file (a new drop at the old path)."""
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if os.path.lexists(dest):
        raise FileExistsError(errno.EEXIST, "a file of that name is there again", dest)
    try:
        os.rename(source, dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.move(source, dest)  # an absolute move: target on another filesystem


def _errno(exc: OSError) -> str | None:
    return errno.errorcode.get(exc.errno or 0)


def _stamps(db: os.PathLike[str]) -> tuple[tuple[int, int], ...]:
    """(mtime, size) of the database and its write-ahead log: any write changes one of them."""
    out = []
    for path in (os.fspath(db), os.fspath(db) + "-wal"):
        try:
            st = os.stat(path)
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((0, 0))
    return tuple(out)
