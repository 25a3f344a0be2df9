"""A note-rendering process (`python -m obtui.engine.pipeline.note_worker FD PARENT_PID`).

It reads batches of notes to write from the socket `FD` (pickled by `note_pool`), writes each
note exactly as a worker thread would (`work.work_on`), and sends back what it did. It never
touches the ledger: the engine looked each file up before sending it, and records the outcomes
itself once the notes are on disk, so the exactly-once order is the same as in a thread.

It dies with the engine: the kernel kills it when its parent goes (PR_SET_PDEATHSIG on Linux,
a polling thread elsewhere), and it ignores the signals a terminal or systemd sends to the
whole group, so the engine alone decides when it stops.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection

from obtui.engine.jobs import Job
from obtui.engine.pipeline.patterns import Match
from obtui.engine.pipeline.work import Done, in_order, work_on
from obtui.tracking.records import ManifestEntry

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Exit as soon as the process that started this one is gone."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    guarded = False
    if sys.platform.startswith("linux"):
        try:
            guarded = ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the guard was set
        os._exit(0)
    if guarded:
        return

    def poll() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=poll, name="parent-watch", daemon=True).start()


Task = tuple[Job, Match, ManifestEntry | None]


def run_notes(items: list[Task], max_size: int, budget: float) -> list[Done]:
    """Write the notes of `items` (each with the manifest entry the engine looked up), at the
    pace of a batch in a thread (`work.in_order`)."""

    def one(task: Task) -> Done:
        job, match, entry = task
        done = work_on(job, match, lambda _path: entry, max_size)
        done.entry, done.looked_up = None, False  # the engine has it: not sent back
        if done.error is not None:
            done.remote_stack = "".join(traceback.format_exception(done.error))
            done.error = sendable(done.error)
        return done

    return in_order(items, one, budget)


def sendable(exc: Exception) -> Exception:
    """`exc`, or a RuntimeError naming it when it cannot cross the socket."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def main(argv: list[str]) -> int:
    fd, parent_pid = int(argv[0]), int(argv[1])
    die_with_parent(parent_pid)
    conn = Connection(fd)
    try:
        conn.send(("ready", os.getpid()))
        while (msg := conn.recv()) is not None:
            items, max_size, budget = msg
            conn.send(run_notes(items, max_size, budget))
    except (EOFError, OSError):  # the engine closed its end: it is stopping, or gone
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
