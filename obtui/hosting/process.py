"""Run the engine in a child process (`obtui.hosting.server`) and talk to it over a socket.

This is what `obtui DIR...` uses under the dashboard: the engine and the UI then never compete
for one GIL. It implements `obtui.api.host.EngineHost`, like `EngineThread` does in-process:
`snapshot()` returns the newest snapshot the engine sent (never blocks); the control calls send
one message and return; `apply_config` waits for the engine's answer.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import subprocess
import sys
import threading
from concurrent.futures import Future
from multiprocessing.connection import Connection
from pathlib import Path

from obtui.api.control import ReloadDiff
from obtui.api.messages import (
    Apply,
    ConfigRejected,
    Exit,
    Pause,
    Reply,
    Rescan,
    Resume,
    SnapshotMsg,
    Start,
    StartRequest,
    Stop,
    ToEngine,
    ToParent,
)
from obtui.api.snapshot import EngineSnapshot
from obtui.config.model import Config

log = logging.getLogger("obtui.engine")

APPLY_TIMEOUT_SECONDS = 15.0
STDERR_FILE = "engine-stderr.log"


class EngineProcessError(RuntimeError):
    """The engine process could not be reached, or ended without saying why."""


class Link:
    """One end of the socket between the UI and the engine process: sends from any thread."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()

    def send(self, message: ToEngine | ToParent) -> bool:
        """Send one message; False once the other end has gone (never raises)."""
        try:
            with self._lock:
                self.conn.send(message)
            return True
        except (OSError, EOFError, ValueError):
            return False


def engine_nice() -> int:
    """How much lower the engine's CPU priority is than the UI's: `$OBTUI_ENGINE_NICE`, else 10."""
    raw = os.environ.get("OBTUI_ENGINE_NICE", "")
    try:
        return max(0, min(19, int(raw))) if raw.strip() else 10
    except ValueError:
        log.warning("OBTUI_ENGINE_NICE=%r is not a whole number; using 10", raw)
        return 10


class EngineProcess:
    """`start()` spawns the engine process and returns at once; `join()` waits for it to exit."""

    def __init__(self, config: Config, state_dir: Path, *, cli_buckets: list[Path] | None = None) -> None:
        self.config = config
        self.state_dir = Path(state_dir)
        self.cli_buckets = tuple(cli_buckets or ())
        self.error: BaseException | None = None
        self.exit_code: int | None = None
        self._snapshot = EngineSnapshot()
        self._proc: subprocess.Popen[bytes] | None = None
        self._link: Link | None = None
        self._reader: threading.Thread | None = None
        self._replies: dict[int, Future[ReloadDiff]] = {}
        self._ids = itertools.count(1)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        ours, theirs = socket.socketpair()
        stderr_path = self.state_dir / STDERR_FILE
        stderr = os.open(stderr_path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
        try:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "obtui.hosting.server",
                    "--fd",
                    str(theirs.fileno()),
                    "--nice",
                    str(engine_nice()),
                ],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # the terminal belongs to the UI
                stderr=stderr,  # only a crash before logging is set up lands here
                # A process group of its own, so signals the terminal sends to the foreground
                # group (ctrl+c, ctrl+z, hang-up) are the UI's to handle; the same session, so
                # the kernel's autogroup scheduling lets its lower priority (--nice) count.
                process_group=0,
                close_fds=True,
            )
        finally:
            os.close(stderr)
            theirs.close()
        self._link = Link(Connection(ours.detach()))
        self._reader = threading.Thread(target=self._read, name="obtui-engine-link", daemon=True)
        self._reader.start()
        request = StartRequest(self.config, self.state_dir, self.cli_buckets)
        if not self._send(Start(request)):
            log.error("could not send the start request to the engine process")

    def _send(self, message: ToEngine) -> bool:
        return self._link is not None and self._link.send(message)

    def _read(self) -> None:
        assert self._link is not None
        conn = self._link.conn
        said_exit = False
        while True:
            try:
                message = conn.recv()
            except (OSError, EOFError):
                break
            match message:
                case SnapshotMsg(snapshot):
                    self._snapshot = snapshot
                case Reply(request_id, diff, error):
                    future = self._replies.pop(request_id, None)
                    if future is None:
                        pass
                    elif error is not None or diff is None:
                        future.set_exception(EngineProcessError(error or "the engine sent no answer"))
                    else:
                        future.set_result(diff)
                case Exit(code, error):
                    said_exit = True
                    self.exit_code, self.error = code, error
                case _:
                    log.warning("engine process: unknown message %r", type(message).__name__)
        conn.close()
        for future in list(self._replies.values()):
            future.set_exception(EngineProcessError("the engine process ended"))
        self._replies.clear()
        if not said_exit:
            self._lost()

    def _lost(self) -> None:
        """The link closed without an exit message: the process crashed or was killed."""
        proc = self._proc
        code = proc.wait() if proc is not None else None
        self.exit_code = code
        where = self.state_dir / STDERR_FILE
        self.error = EngineProcessError(
            f"the engine process ended unexpectedly (exit code {code}); see {where} and "
            f"{self.state_dir / 'obtui.log'}"
        )
        log.error("%s", self.error)

    # ---- EngineHost ---------------------------------------------------------------------------

    def snapshot(self) -> EngineSnapshot:
        return self._snapshot

    def pause(self) -> None:
        self._send(Pause())

    def resume(self) -> None:
        self._send(Resume())

    def rescan(self) -> None:
        self._send(Rescan())

    def request_stop(self, force: bool = False) -> None:
        if not self._send(Stop(force)) and force and self.alive:
            assert self._proc is not None
            self._proc.terminate()  # the link is gone: SIGTERM is the engine's own graceful stop

    def apply_config(self, config: Config) -> ReloadDiff:
        """Send the new config and wait (up to 15 s) for what the engine changed."""
        future: Future[ReloadDiff] = Future()
        request_id = next(self._ids)
        self._replies[request_id] = future
        if not self._send(Apply(request_id, config)):
            self._replies.pop(request_id, None)
            raise EngineProcessError("the engine process is not running")
        try:
            diff = future.result(APPLY_TIMEOUT_SECONDS)
        except TimeoutError:
            self._replies.pop(request_id, None)
            raise EngineProcessError(
                f"the engine did not answer within {APPLY_TIMEOUT_SECONDS:.0f} s"
            ) from None
        self.config = config  # what the engine runs now
        return diff

    def record_config_error(self, message: str, source: str | None) -> None:
        """Put a rejected config edit on record (Configuration category); does not block."""
        self._send(ConfigRejected(message, source))

    def join(self, timeout: float | None = None) -> bool:
        """Wait up to `timeout` seconds for the engine process to exit; True once it has."""
        proc = self._proc
        if proc is None:
            return True
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        if self._reader is not None:
            # It ends at the socket's EOF, right after the process, having read the exit message.
            self._reader.join(5 if timeout is None else max(timeout, 1.0))
        return True

    def kill(self) -> None:
        """Last resort when a forced stop did not end the process."""
        if self.alive:
            assert self._proc is not None
            self._proc.kill()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None
