"""Running a program from a worker thread, off the engine loop.

The thread spawns the program (in its own session, so its whole process group can be killed),
keeps the tail of its stdout/stderr, and waits for its exit on a pidfd in the same `select` as
the pipes: no watcher thread per child, no fork on the engine loop. A timeout or a cancellation
kills the process group; a child left holding the pipes after the program exited is killed too.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

KEEP = 64 << 10  # bytes of stdout / stderr kept while the command runs (the tail)
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
EOF_GRACE = 2.0  # after the program exits, how long leftover children may hold its pipes
POLL = 0.05  # without a pidfd (not Linux), how often the program's exit is polled

# The threads commands run in: one per running command (up to the largest `concurrency`),
# apart from the default executor so that long commands never hold up short hops.
POOL = ThreadPoolExecutor(max_workers=256, thread_name_prefix="obtui-command")


@dataclass
class Ran:
    """How a program ended: its exit code (negative: killed by that signal), the tails of its
    output, and whether it ran out of time."""

    returncode: int
    out: bytearray = field(default_factory=bytearray)
    err: bytearray = field(default_factory=bytearray)
    timed_out: bool = False


class Child:
    """The handle the engine loop keeps on a program a thread runs: `cancel()` kills it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pgid: int | None = None
        self.cancelled = False

    def started(self, pgid: int) -> None:
        with self._lock:
            self._pgid = pgid
            cancelled = self.cancelled
        if cancelled:
            signal_group(pgid, signal.SIGKILL)

    def cancel(self) -> None:
        """Kill the program's whole group now (shutting down: leave nothing running)."""
        with self._lock:
            self.cancelled = True
            pgid = self._pgid
        if pgid is not None:
            signal_group(pgid, signal.SIGKILL)


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def run_program(argv: list[str], env: dict[str, str], timeout: float | None, child: Child) -> Ran:
    """Run `argv` to its end (blocking; call it from a worker thread). Spawn errors (not found,
    not executable) are raised as the OSError they are."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=env,
        bufsize=0,
    )
    child.started(proc.pid)
    try:
        return _Watch(proc).run(timeout)
    finally:
        for f in (proc.stdout, proc.stderr):
            if f is not None:
                f.close()


class _Watch:
    """One `select` over the program's pipes and its pidfd."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.ran = Ran(0)
        self.sel = selectors.DefaultSelector()
        assert proc.stdout is not None and proc.stderr is not None
        self.bufs = {proc.stdout.fileno(): self.ran.out, proc.stderr.fileno(): self.ran.err}
        for fd in self.bufs:
            self.sel.register(fd, selectors.EVENT_READ)
        self.pidfd: int | None = None
        self.watching = False  # the pidfd is in the select (else the exit is polled)
        with contextlib.suppress(AttributeError, OSError):  # pidfd: Linux 5.3+
            self.pidfd = os.pidfd_open(proc.pid)
            self.sel.register(self.pidfd, selectors.EVENT_READ)
            self.watching = True

    def run(self, timeout: float | None) -> Ran:
        try:
            pgid = self.proc.pid
            if not self._pump(self._exited, timeout):
                self.ran.timed_out = True
                signal_group(pgid, signal.SIGTERM)
                self._pump(self._exited, KILL_GRACE)
                # Always: group members that ignored SIGTERM outlive a leader that honoured it.
                signal_group(pgid, signal.SIGKILL)
                self._pump(self._exited, KILL_GRACE)
            if not self._pump(self._closed, EOF_GRACE):
                signal_group(pgid, signal.SIGKILL)  # children still holding the pipes
                self._pump(self._closed, EOF_GRACE)
            self.ran.returncode = self.proc.returncode or 0
            return self.ran
        finally:
            self.sel.close()
            if self.pidfd is not None:
                os.close(self.pidfd)

    def _exited(self) -> bool:
        return self.proc.returncode is not None

    def _closed(self) -> bool:
        return not any(fd in self.bufs for fd in self.sel.get_map())

    def _pump(self, done: Callable[[], bool], seconds: float | None) -> bool:
        """Read output and watch the exit until `done()` or `seconds` pass; True when done."""
        end = None if seconds is None else time.monotonic() + seconds
        while not done():
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                return False
            polling = not self.watching and not self._exited()
            wait = min(left, POLL) if polling and left is not None else (POLL if polling else left)
            if not self.sel.get_map():
                time.sleep(wait if wait is not None else POLL)
            for key, _ in self.sel.select(wait):
                fd = int(key.fd)
                if fd == self.pidfd:
                    self.sel.unregister(fd)
                    self.watching = False
                    self.proc.poll()
                    continue
                data = os.read(fd, KEEP)
                if not data:
                    self.sel.unregister(fd)
                    continue
                buf = self.bufs[fd]
                buf += data
                if len(buf) > KEEP:
                    del buf[:-KEEP]
            if polling:
                self.proc.poll()
        return True
