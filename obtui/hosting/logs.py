"""Logging set-up for every way of hosting an engine: a private JSON-lines file in the state dir.

Used by the headless mode, the engine process and the dashboard (which must not import the CLI).

The engine loop only queues log records: formatting and writing happen on one listener thread,
so a burst that logs a line per file never formats JSON or writes to disk on the loop. The
listener is flushed and stopped at exit (`atexit`) and by `stop_logging()`.
"""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import os
import queue
import sys
import time
from pathlib import Path

LOG_FILE = "obtui.log"

_listener: logging.handlers.QueueListener | None = None


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts (UTC, milliseconds), level, logger, msg and exc when any."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class _Enqueue(logging.handlers.QueueHandler):
    """Queues the record as it is: the stock `prepare` formats it on the caller's thread, which
    is exactly the work to keep off the engine loop. obtui logs strings and numbers, so the
    arguments cannot change before the listener formats them."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


def setup_logging(state_dir: Path, *, stderr: bool) -> None:
    """JSON-lines log file in the state dir; warnings also on stderr when asked. Written by a
    listener thread; calling it again replaces the previous set-up."""
    global _listener
    stop_logging()
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    root = logging.getLogger("obtui")
    root.setLevel(logging.INFO)
    log_path = state_dir / LOG_FILE
    os.close(os.open(log_path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600))  # private, whatever the umask
    fh = logging.FileHandler(log_path, encoding="utf-8")
    fh.setFormatter(JsonFormatter())
    handlers: list[logging.Handler] = [fh]
    if stderr:
        sh = logging.StreamHandler(sys.stderr)
        sh.setLevel(logging.WARNING)
        sh.setFormatter(logging.Formatter("obtui: %(levelname)s: %(message)s"))
        handlers.append(sh)
    q: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    for h in list(root.handlers):
        if isinstance(h, _Enqueue):
            root.removeHandler(h)
    root.addHandler(_Enqueue(q))
    _listener = logging.handlers.QueueListener(q, *handlers, respect_handler_level=True)
    _listener.start()


def stop_logging() -> None:
    """Write out every queued record, stop the listener thread and close the log file."""
    global _listener
    listener, _listener = _listener, None
    if listener is None:
        return
    listener.stop()  # drains the queue first
    for h in listener.handlers:
        h.close()


atexit.register(stop_logging)
