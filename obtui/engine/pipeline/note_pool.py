"""Note processes: in a burst, batches of notes are written by a few worker processes.

Rendering a note is Python work under the GIL; in one process it takes turns with the engine's
own loop (events, dispatch, records), so a burst used about one core of two. A batch of notes
(`MIN_BATCH` or more, every one a plain file with the note action) goes instead to a free note
process (`note_worker`), while the worker thread that sent it waits without the GIL. Single
drops and commands stay in the engine's threads: a note process saves nothing on one file.

The processes are started on the first burst (until one is ready, batches run in threads as
before), die with the engine, and are never needed: a batch that finds none free, or whose
process died, runs in the thread instead. After `MAX_DEATHS` deaths the pool turns itself off.
The ledger is read and written only by the engine, so the exactly-once order does not change.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import obtui
from obtui.engine.jobs import Job
from obtui.engine.pipeline.patterns import Match
from obtui.tracking.records import ManifestEntry

if TYPE_CHECKING:
    from obtui.engine.pipeline.work import Admitted, Done

log = logging.getLogger("obtui.notes")

MIN_BATCH = 4  # fewer notes than this are written in the worker thread itself
MAX_DEATHS = 3  # note processes lost before the pool turns itself off
Task = tuple[Job, Match, ManifestEntry | None]


class RemoteStack(Exception):
    """The stack of an error raised in a note process (the `__cause__` of the error itself)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


@dataclass
class _Proc:
    popen: subprocess.Popen[bytes]
    conn: Connection
    state: Literal["starting", "idle", "busy", "dead"] = "starting"


class NoteProcesses:
    """Up to `count()` note processes, started on demand (see the module's docstring)."""

    def __init__(self, count: Callable[[], int]) -> None:
        self._count = count
        self._procs: list[_Proc] = []
        self._lock = threading.Lock()
        self._closed = False
        self._reaper: threading.Thread | None = None
        self.batches = 0  # batches written by a note process
        self.deaths = 0  # note processes lost (killed, crashed) while the engine ran

    def pids(self) -> list[int]:
        """The process ids of the note processes started and not ended."""
        with self._lock:
            return [p.popen.pid for p in self._procs if p.state != "dead"]

    def wanted(self, batch: list[Admitted]) -> NoteProcesses | None:
        """On the engine loop: this pool when `batch` is a batch of notes and a note process is
        ready for it (starting them on the first such batch), else None."""
        n = self._count()
        if n <= 0 or self._closed or self.deaths >= MAX_DEATHS or len(batch) < MIN_BATCH:
            return None
        if any(a.job.is_dir or a.match.rule.action != "note" for a in batch):
            return None
        with self._lock:
            self._procs = [p for p in self._procs if p.state != "dead"]
            for _ in range(n - len(self._procs)):
                self._procs.append(self._spawn())
            ready = any(self._is_ready(p) for p in self._procs)
        return self if ready else None

    def run(self, tasks: list[Task], max_size: int, budget: float) -> list[Done] | None:
        """In a worker thread: the batch done by a free note process (in order, stopping after
        the first failure or `budget` seconds, as in a thread), or None when none is free or
        the process died (the caller then writes the notes itself)."""
        proc = self._take()
        if proc is None:
            return None
        try:
            proc.conn.send((tasks, max_size, budget))
            done: list[Done] = proc.conn.recv()
        except Exception as exc:  # died, or the batch could not cross: the thread does it
            self._lost(proc, exc)
            return None
        self._give_back(proc)
        self.batches += 1
        for d in done:
            if d.error is not None and d.remote_stack:
                d.error.__cause__ = RemoteStack(d.remote_stack)
        return done

    def close(self) -> None:
        """Shutting down: each process ends once it has finished its batch."""
        with self._lock:
            self._closed = True
            procs = list(self._procs)
            for p in procs:
                if p.state != "busy":
                    self._end(p)
        self._reaper = threading.Thread(target=_reap, args=(procs,), name="obtui-notes-reap", daemon=True)
        self._reaper.start()

    def wait_closed(self) -> None:
        """Blocking: after `close`, until every note process has exited (a few seconds at most)."""
        if self._reaper is not None:
            self._reaper.join()

    # -- inside -------------------------------------------------------------------------------

    def _spawn(self) -> _Proc:
        # Called on the engine's loop thread, which lives as long as the engine: the kernel's
        # parent-death signal (see note_worker) follows the thread that started the process.
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        root = str(Path(obtui.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(x for x in (root, env.get("PYTHONPATH")) if x)
        argv = [
            sys.executable,
            "-m",
            "obtui.engine.pipeline.note_worker",
            str(theirs.fileno()),
            str(os.getpid()),
        ]
        try:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                env=env,
            )
        finally:
            theirs.close()
        return _Proc(popen, Connection(ours.detach()))

    def _is_ready(self, p: _Proc) -> bool:
        if p.state == "starting":
            try:
                if p.conn.poll(0):
                    p.conn.recv()  # ("ready", pid)
                    p.state = "idle"
            except (EOFError, OSError) as exc:
                self._mark_dead(p, exc)
        return p.state in ("idle", "busy")

    def _take(self) -> _Proc | None:
        with self._lock:
            for p in self._procs:
                if self._is_ready(p) and p.state == "idle":
                    p.state = "busy"
                    return p
        return None

    def _give_back(self, p: _Proc) -> None:
        with self._lock:
            if p.state == "busy":
                p.state = "idle"
            if self._closed or len(self._procs) > self._count():
                self._end(p)
                threading.Thread(target=_reap, args=([p],), name="obtui-notes-reap", daemon=True).start()

    def _lost(self, p: _Proc, exc: BaseException) -> None:
        with self._lock:
            self._mark_dead(p, exc)
        p.popen.kill()
        p.popen.wait()

    def _mark_dead(self, p: _Proc, exc: BaseException) -> None:
        if p.state == "dead":
            return
        p.state = "dead"
        p.conn.close()
        self.deaths += 1
        how = "" if p.popen.poll() is None else f" (exit status {p.popen.returncode})"
        if self.deaths >= MAX_DEATHS:
            log.warning(
                "note process %d lost%s: %r; notes are written in threads from now on", p.popen.pid, how, exc
            )
        else:
            log.warning("note process %d lost%s: %r; its batch is written in a thread", p.popen.pid, how, exc)

    def _end(self, p: _Proc) -> None:
        if p.state == "dead":
            return
        p.state = "dead"
        try:
            p.conn.send(None)
        except OSError:
            pass
        p.conn.close()


def _reap(procs: list[_Proc]) -> None:
    for p in procs:
        try:
            p.popen.wait(10)
        except subprocess.TimeoutExpired:
            p.popen.kill()
            p.popen.wait()
