"""Logging set-up for every way of hosting an engine: a private JSON-lines file in the state dir.

Used by the headless mode, the engine process and the dashboard (which must not import the CLI).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

LOG_FILE = "obtui.log"


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


def setup_logging(state_dir: Path, *, stderr: bool) -> None:
    """JSON-lines log file in the state dir; warnings also on stderr when asked."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    root = logging.getLogger("obtui")
    root.setLevel(logging.INFO)
    log_path = state_dir / LOG_FILE
    os.close(os.open(log_path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600))  # private, whatever the umask
    fh = logging.FileHandler(log_path, encoding="utf-8")
    fh.setFormatter(JsonFormatter())
    root.addHandler(fh)
    if stderr:
        sh = logging.StreamHandler(sys.stderr)
        sh.setLevel(logging.WARNING)
        sh.setFormatter(logging.Formatter("obtui: %(levelname)s: %(message)s"))
        root.addHandler(sh)
