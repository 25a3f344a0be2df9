"""`obtui --headless`: the engine under cron, systemd or a container, no terminal needed.

A one-line status goes to stderr every few seconds; a structured JSON-lines log goes to
`<state dir>/obtui.log`. SIGINT/SIGTERM stop gracefully (a second one forces), SIGHUP reloads
the config file. Under systemd it speaks the notify protocol (see `obtui.hosting.inline`).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

from obtui.config.model import Config
from obtui.hosting.logs import setup_logging


def status_line(snap: Any) -> str:
    """The one-line status: this run's `Figures`, the queue, the rate, open breakers, scans."""
    m, q = snap.metrics, snap.queue
    extra = ""
    open_breakers = [b.rule for b in snap.breakers if b.state != "closed"]
    if open_breakers:
        extra += f" · breaker open: {', '.join(open_breakers)}"
    if any(s.running for s in snap.scans):
        extra += " · scanning"
    return (
        f"[obtui {snap.state}] {m.figures.line()} · "
        f"queue {q.pending:,} (+{q.processing} running, {q.settling} settling) · "
        f"{m.file_rate:.1f} files/s{extra}"
    )


def run_headless(
    config: Config, state_dir: Path, *, once: bool, cli_buckets: list[Path], verbose: bool = False
) -> int:
    """Run until signalled (or caught up, with once). Exit code 0; 1 when `once` and files failed;
    2 when another runner holds the state dir (or a bucket) or the metrics address is taken."""
    from obtui.cli.progress import REDRAW_SECONDS, ProgressBar, wants_progress
    from obtui.engine.engine import Engine
    from obtui.engine.pipeline.prometheus import MetricsListenError  # prometheus_client only when serving
    from obtui.hosting.inline import run_inline
    from obtui.tracking.runtime_files import RunnerLockedError

    setup_logging(state_dir, stderr=True)
    # Catching up on a terminal: a progress bar; elsewhere (logs, journald) a status line.
    bar = ProgressBar(sys.stderr) if once and wants_progress(sys.stderr) else None
    try:
        engine = Engine(config, state_dir, once=once, cli_buckets=cli_buckets)
        if verbose:
            engine.subscribe(print_event)
        code = run_inline(
            engine,
            on_signal=announce_stop,
            tick=(
                (lambda: bar.draw(engine.snapshot()))
                if bar is not None
                else lambda: print(status_line(engine.snapshot()), file=sys.stderr, flush=True)
            ),
            tick_seconds=REDRAW_SECONDS if bar is not None else config.runner.status_interval_seconds,
            status=status_line,
        )
    except (RunnerLockedError, MetricsListenError) as exc:
        print(f"obtui: {exc}", file=sys.stderr)
        return 2
    if bar is not None:
        bar.finish(engine.snapshot())
    print(status_line(engine.snapshot()), file=sys.stderr)
    # 1 is the answer of a catch-up run (cron: "some files failed"). A long-running runner that
    # was asked to stop stopped gracefully: 0, or systemd marks the unit failed.
    return code if once else 0


def announce_stop(sig: signal.Signals, force: bool) -> None:
    """Say on stderr what a stop signal does now."""
    what = "forcing stop" if force else "stopping: in-flight files finish, the rest stay pending"
    print(f"obtui: {what} ({sig.name})", file=sys.stderr)


def print_event(ev: dict[str, Any]) -> None:
    """`--verbose`: one stderr line per engine event."""
    print(
        f"{ev['event']}: {ev.get('filePath') or ev.get('rule')}"
        + (f" ({ev['error']['message']})" if ev["event"] == "error" else ""),
        file=sys.stderr,
    )
