"""`obtui --headless`: the engine under cron, systemd or a container, no terminal needed.

A one-line status goes to stderr every few seconds; a structured JSON-lines log goes to
`<state dir>/obtui.log`. SIGINT/SIGTERM stop gracefully (a second one forces), SIGHUP reloads
the config file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from obtui.config.model import Config


class JsonFormatter(logging.Formatter):
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
    log_path = state_dir / "obtui.log"
    os.close(os.open(log_path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600))  # private, whatever the umask
    fh = logging.FileHandler(log_path, encoding="utf-8")
    fh.setFormatter(JsonFormatter())
    root.addHandler(fh)
    if stderr:
        sh = logging.StreamHandler(sys.stderr)
        sh.setLevel(logging.WARNING)
        sh.setFormatter(logging.Formatter("obtui: %(levelname)s: %(message)s"))
        root.addHandler(sh)


def status_line(snap: Any) -> str:
    m, q = snap.metrics, snap.queue
    extra = ""
    open_breakers = [b.rule for b in snap.breakers if b.state != "closed"]
    if open_breakers:
        extra += f" · breaker open: {', '.join(open_breakers)}"
    if any(s.running for s in snap.scans):
        extra += " · scanning"
    return (
        f"[obtui {snap.state}] processed {m.successful:,} · failed {m.failed:,} · "
        f"queue {q.pending:,} (+{q.processing} running, {q.settling} settling) · "
        f"{m.file_rate:.1f} files/s{extra}"
    )


async def _main(config: Config, state_dir: Path, once: bool, cli_buckets: list[Path], verbose: bool) -> int:
    from obtui.engine.engine import Engine

    engine = Engine(config, state_dir, once=once, cli_buckets=cli_buckets)
    loop = asyncio.get_running_loop()
    signals = {"n": 0}

    def on_signal(signum: int) -> None:
        signals["n"] += 1
        force = signals["n"] > 1
        print(
            f"obtui: {'forcing stop' if force else 'stopping: in-flight files finish, the rest stay pending'}"
            f" ({signal.Signals(signum).name})",
            file=sys.stderr,
        )
        engine.request_stop(force=force)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    if hasattr(signal, "SIGHUP"):
        loop.add_signal_handler(signal.SIGHUP, engine.reload)
    if verbose:
        engine.subscribe(
            lambda ev: print(
                f"{ev['event']}: {ev.get('filePath') or ev.get('rule')}"
                + (f" ({ev['error']['message']})" if ev["event"] == "error" else ""),
                file=sys.stderr,
            )
        )

    async def ticker() -> None:
        while True:
            await asyncio.sleep(config.runner.status_interval_seconds)
            print(status_line(engine.snapshot()), file=sys.stderr, flush=True)

    tick = asyncio.create_task(ticker())
    try:
        code = await engine.run()
    finally:
        tick.cancel()
    snap = engine.snapshot()
    print(status_line(snap), file=sys.stderr)
    return code


def run_headless(
    config: Config, state_dir: Path, *, once: bool, cli_buckets: list[Path], verbose: bool = False
) -> int:
    """Run until signalled (or caught up, with once). Exit code 0, 1 (files failed) or 2."""
    from obtui.tracking.runtime_files import RunnerLockedError

    setup_logging(state_dir, stderr=True)
    try:
        return asyncio.run(_main(config, state_dir, once, cli_buckets, verbose))
    except RunnerLockedError as exc:
        print(f"obtui: {exc}", file=sys.stderr)
        return 2
