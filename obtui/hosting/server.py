"""The engine in a process of its own, serving one parent (the TUI) over a socket.

    python -m obtui.hosting.server --fd N [--nice 10]

The parent (`obtui.hosting.process.EngineProcess`) starts this with one end of a socket
pair as fd N. In one Python process the engine and a Textual app share one GIL: a 20,000-file
burst ran at 0.39x the headless rate and keys waited up to 200 ms. Apart, each has a core of its
own, and `--nice` lets the UI have the CPU first when it needs it.

Messages are the frozen dataclasses of `obtui.api.messages`, read here with `match`.

Both ends are the same program, started by the same user: pickle crosses no trust boundary here.
The engine stops gracefully when the parent says so, on SIGTERM/SIGINT (a second one forces), or
when the socket closes because the parent went away, so it can never outlive its dashboard.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import threading
from multiprocessing.connection import Connection

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
    Stop,
    ToEngine,
)
from obtui.config.model import Config
from obtui.engine.engine import Engine
from obtui.hosting.logs import setup_logging
from obtui.hosting.process import Link
from obtui.hosting.signals import install_stop_signals

log = logging.getLogger("obtui.engine")

PUBLISH_SECONDS = 0.1  # how often the sender looks for a new snapshot version


class EngineServer:
    """Runs one Engine on this process's main thread and serves its parent over `conn`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.send = Link(conn).send  # False once the parent has gone (never raises)
        self.engine: Engine | None = None
        self._done = threading.Event()

    def serve(self) -> int:
        """Read the start request, run the engine until it stops, report how it ended."""
        try:
            first = self.conn.recv()
        except (OSError, EOFError):
            return 2  # the parent went away before saying anything
        match first:
            case Start(request):
                pass
            case _:
                self.send(Exit(2, RuntimeError(f"expected a start request, got {type(first).__name__}")))
                return 2
        setup_logging(request.state_dir, stderr=False)  # the terminal belongs to the UI
        # The dashboard follows the config file itself (it also refreshes an open editor).
        engine = Engine(
            request.config, request.state_dir, cli_buckets=list(request.cli_buckets), follow_config=False
        )
        self.engine = engine
        threading.Thread(target=self._read_commands, name="obtui-engine-commands", daemon=True).start()
        sender = threading.Thread(target=self._send_snapshots, name="obtui-engine-snapshots", daemon=True)
        sender.start()
        code, error = 1, None
        try:
            code = asyncio.run(self._run(engine))
        except BaseException as exc:  # reported to the parent, which shows it
            log.exception("engine stopped with an error")
            code, error = 2, exc
        self._done.set()
        sender.join(5)
        self.send(SnapshotMsg(engine.snapshot()))
        if not self.send(Exit(code, _picklable(error))):
            log.info("the dashboard had gone before the engine finished")
        return code

    async def _run(self, engine: Engine) -> int:
        install_stop_signals(asyncio.get_running_loop(), engine)
        return await engine.run()

    def _read_commands(self) -> None:
        engine = self.engine
        assert engine is not None
        while True:
            try:
                message = self.conn.recv()
            except (OSError, EOFError):
                # The parent went away (quit, crash or kill): stop gracefully, never outlive it.
                if not self._done.is_set():
                    log.info("the dashboard went away; stopping the engine")
                    engine.request_stop()
                return
            try:
                self._handle(engine, message)
            except Exception:  # a bad message must not take the command reader down
                log.exception("engine process: could not handle %s", type(message).__name__)

    def _handle(self, engine: Engine, message: ToEngine) -> None:
        match message:
            case Pause():
                engine.pause()
            case Resume():
                engine.resume()
            case Rescan():
                engine.rescan()
            case Stop(force):
                engine.request_stop(force=force)
            case ConfigRejected(text, source):
                engine.record_config_error(text, source)
            case Apply(request_id, config):
                # apply_config blocks until the engine loop has applied it: not on this reader.
                threading.Thread(
                    target=self._apply, args=(engine, request_id, config), name="obtui-engine-apply"
                ).start()
            case _:
                log.warning("engine process: unknown message %s", type(message).__name__)

    def _apply(self, engine: Engine, request_id: int, config: Config) -> None:
        try:
            diff = engine.apply_config(config)
        except Exception as exc:
            self.send(Reply(request_id, error=str(exc) or type(exc).__name__))
            return
        self.send(Reply(request_id, diff=diff))

    def _send_snapshots(self) -> None:
        engine = self.engine
        assert engine is not None
        sent = -1
        while not self._done.wait(PUBLISH_SECONDS):
            snap = engine.snapshot()
            if snap.version != sent and not self.send(SnapshotMsg(snap)):
                return
            sent = snap.version


def _picklable(error: BaseException | None) -> BaseException | None:
    """The exception itself when it survives pickling, else a RuntimeError with its message."""
    if error is None:
        return None
    import pickle

    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="obtui's engine process (started by the dashboard)")
    ap.add_argument("--fd", type=int, required=True, help="the socket inherited from the parent")
    ap.add_argument("--nice", type=int, default=0, help="lower this process's CPU priority by this much")
    args = ap.parse_args(argv)
    if args.nice:
        os.nice(args.nice)
    sock = socket.socket(fileno=args.fd)
    conn = Connection(sock.detach())
    try:
        return EngineServer(conn).serve()
    finally:
        conn.close()


if __name__ == "__main__":
    raise SystemExit(main())
