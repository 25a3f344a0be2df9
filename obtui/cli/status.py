"""The text and JSON of `obtui --status` and `--metrics` (see `cli.reports`), from the runner's
status.json snapshot and metrics.jsonl samples. No Textual, no Rich."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from obtui.api.snapshot import Figures, percent
from obtui.cli.text import RULE, category_rows, ms, num, uptime, when, write_rows
from obtui.config.units import format_size


def _iso(ts: float | None) -> str | None:
    return (
        datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if ts else None
    )


def _uptime_s(alive: bool, snap: dict[str, Any], now: float) -> float:
    started = snap.get("started_at") or 0.0
    if alive and started:
        return max(0.0, now - started)
    return float((snap.get("metrics") or {}).get("uptime_s") or 0.0)


def status_json(
    pid: int | None, status: dict[str, Any] | None, by_cat: dict[str, int], now: float
) -> dict[str, Any]:
    """The stable JSON of `--status`: liveness first, then the last snapshot as the engine wrote it."""
    snap = (status or {}).get("snapshot") or None
    s = snap or {}
    return {
        "alive": pid is not None,
        "pid": pid or None,
        "runId": s.get("run_id"),
        "state": s.get("state"),
        "writtenAt": (status or {}).get("written_at"),
        "startedAt": _iso(s.get("started_at")),
        "uptimeSeconds": round(_uptime_s(pid is not None, s, now), 3) if snap else None,
        "figures": Figures.of_json(s.get("metrics")).to_json() if snap else None,
        "errorsByCategory": by_cat,
        "snapshot": snap,
    }


def render_status(
    out: TextIO,
    state_dir: Path,
    pid: int | None,
    status: dict[str, Any] | None,
    by_cat: dict[str, int],
    now: float,
) -> None:
    """The one-screen status block, modelled on the Open Buckets console output."""
    snap = (status or {}).get("snapshot") or None
    if snap is None:
        if pid is not None:
            out.write(
                f"a runner is alive (pid {pid or '?'}) on {state_dir} but has not written its status yet\n"
            )
        else:
            out.write(
                f"no runner is alive and none has written a status in {state_dir} (is --state-dir right?)\n"
            )
        return
    alive = pid is not None
    m, q = snap.get("metrics") or {}, snap.get("queue") or {}
    out.write(f"{RULE}\nobtui - Status\n{RULE}\n\n")
    lines = [
        ("Runner", f"alive, pid {pid or snap.get('pid')}, {snap.get('run_id', '')}, {snap.get('state', '?')}")
    ]
    if not alive:
        lines = [
            ("Runner", f"NOT RUNNING (no runner holds {state_dir})"),
            (
                "Last status",
                f"{when((status or {}).get('written_at'))}, pid {snap.get('pid')}, state {snap.get('state', '?')}",
            ),
            ("", "the figures below are from then"),
        ]
    buckets = snap.get("buckets") or []
    lines += [("Uptime", uptime(_uptime_s(alive, snap, now))), ("Watched Directories", str(len(buckets)))]
    write_rows(out, lines, indent="")
    for b in buckets:
        note = f" ({b['message']})" if b.get("message") else ""
        out.write(f"  {b.get('path')}  {b.get('state')}{note}\n")
    fig = Figures.of_json(m)
    sections: list[tuple[str, list[tuple[str, str]]]] = [
        (
            "Event Statistics",
            [
                ("Events Received", num(m.get("events_received", 0))),
                ("Events Processed", num(m.get("events_processed", 0))),
                ("Event Rate", f"{m.get('event_rate', 0.0):.2f} events/s"),
            ],
        ),
        (
            "Processing Statistics",
            [
                ("Files Processed", num(fig.processed)),
                ("Successful", f"{num(fig.successful)} ({percent(fig.success_rate)})"),
                ("Failed", f"{num(fig.failed)} ({percent(fig.failure_rate)})"),
                ("Error Records", num(fig.error_records)),
                ("Average Duration", ms(m.get("duration_avg_ms", 0.0))),
                ("Bytes Processed", format_size(m.get("bytes_processed", 0))),
            ],
        ),
        (
            "Queue Status",
            [
                (k.capitalize(), f"{num(q.get(k, 0))} files")
                for k in ("settling", "pending", "processing", "waiting", "completed", "failed")
                if k in ("pending", "processing", "completed") or q.get(k)
            ],
        ),
    ]
    for title, rows in sections:
        out.write(f"\n{title}:\n")
        write_rows(out, rows)
    if q.get("backlog"):
        out.write("  (backlog: the queue was full; the excess waits for the next scan)\n")
    open_breakers = [b for b in snap.get("breakers") or [] if b.get("state") != "closed"]
    if open_breakers:
        out.write("\nCircuit Breakers:\n")
        write_rows(
            out,
            [
                (b["rule"], f"{b['state']}, {b.get('failures', 0)} failures, {b.get('waiting', 0)} waiting")
                for b in open_breakers
            ],
        )
    out.write("\nError Summary (this run):\n")
    if by_cat:
        category_rows(out, by_cat)
    else:
        out.write("  none\n")
    recent = (snap.get("recent_errors") or [])[:5]
    out.write(f"\nRecent Errors (Last {len(recent)}):\n" if recent else "\nRecent Errors: none\n")
    for i, e in enumerate(recent, 1):
        where = f" - {e['file_path']}" if e.get("file_path") else ""
        out.write(f"  {i}. {e.get('error_id')}: {e.get('message')}{where}\n")
    out.write(f"\n{RULE}\n")


def render_metrics(
    out: TextIO, sample: dict[str, Any] | None, source: str | None, counts: dict[str, int]
) -> None:
    """The latest metrics sample and the record counts, as aligned text."""
    if sample:
        m = sample.get("metrics") or {}
        out.write(
            f"Metrics sample of {when(sample.get('timestamp'))}, pid {sample.get('pid')} (from {source})\n\n"
        )
        fig = Figures.of_json(m)
        durations = "  ".join(
            f"{k} {m.get(f'duration_{k}_ms', 0.0):,.1f}" for k in ("min", "avg", "p50", "p95", "max")
        )
        write_rows(
            out,
            [
                ("Uptime", uptime(m.get("uptime_s", 0.0))),
                ("Events received", num(m.get("events_received", 0))),
                ("Events processed", num(m.get("events_processed", 0))),
                ("Event rate", f"{m.get('event_rate', 0.0):.2f} events/s"),
                ("Files processed", num(fig.processed)),
                ("Successful", f"{num(fig.successful)} ({percent(fig.success_rate)})"),
                ("Failed", f"{num(fig.failed)} ({percent(fig.failure_rate)})"),
                ("Error records", num(fig.error_records)),
                ("Skipped unchanged", num(m.get("skipped_unchanged", 0))),
                ("File rate", f"{m.get('file_rate', 0.0):.2f} files/s"),
                ("Duration (ms)", durations),
                ("Bytes processed", format_size(m.get("bytes_processed", 0))),
                ("Queue depth", num(m.get("queue_depth", 0))),
                ("Overflows / rescans", f"{num(m.get('overflows', 0))} / {num(m.get('rescans', 0))}"),
            ],
        )
    else:
        out.write("no metrics sample yet (a runner writes one every metrics_interval_seconds)\n")
    if counts:
        out.write(
            f"\nRecords on file: {num(counts.get('successes', 0))} successful files, "
            f"{num(counts.get('failed_files', 0))} failed files, {num(counts.get('errors', 0))} error records, "
            f"{num(counts.get('manifest', 0))} paths in the manifest, "
            f"{num(counts.get('post_pending', 0))} post-actions pending\n"
        )
