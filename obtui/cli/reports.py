"""`obtui --report / --errors / --status / --metrics`: read-only views of a state dir, as plain
text or JSON. Imports nothing of Textual or Rich, so these commands start fast.

Exit codes: 0, 2 for bad arguments or an unreadable database, and for `--status` 3 when no runner
is alive.
"""

from __future__ import annotations

import re
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from obtui.api.snapshot import percent
from obtui.cli.text import category_rows, dump_json, ms, num, pct, safe_out, since_words, when, write_rows
from obtui.config.units import format_size
from obtui.tracking.codec import utc_iso
from obtui.tracking.records import Category
from obtui.tracking.runtime_files import read_last_metrics, read_status, runner_pid
from obtui.tracking.schema import SchemaError
from obtui.tracking.sqlite_store import DB_NAME, SQLiteStore

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SINCE_HELP = "use a duration like 90s, 30m, 24h, 7d, 2w, 'all', or an ISO date/time like 2026-02-18 or 2026-02-18T04:00Z"


def parse_since(text: str, now: datetime | None = None) -> str | None:
    """`--since` as an ISO 8601 UTC timestamp (None for "all"). Relative to `now`; an ISO time
    without a zone is local time. Raises ValueError naming the accepted forms."""
    t = text.strip()
    if t.lower() == "all":
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw])", t.lower())
    if m:
        now = now or datetime.now(UTC)
        try:
            return utc_iso((now - timedelta(seconds=float(m[1]) * _UNITS[m[2]])).isoformat())
        except OverflowError:
            raise ValueError(f"{text!r} reaches back before year 1: {_SINCE_HELP}") from None
    try:
        dt = datetime.fromisoformat(t)
    except ValueError:
        raise ValueError(f"cannot read {text!r} as a time: {_SINCE_HELP}") from None
    if dt.tzinfo is None:
        dt = dt.astimezone()
    return utc_iso(dt.isoformat())


def _no_records(state_dir: Path, out: TextIO) -> None:
    out.write(f"no records yet in {state_dir} (is --state-dir right?)\n")


def _open(state_dir: Path) -> SQLiteStore | None:
    """The store, read-only; None when there is no database yet."""
    if not (Path(state_dir) / DB_NAME).is_file():
        return None
    return SQLiteStore(state_dir, readonly=True)


def _db_failed(state_dir: Path, exc: Exception) -> int:
    print(f"obtui: cannot read the records in {state_dir}: {exc}", file=sys.stderr)
    return 2


# ---- --report ---------------------------------------------------------------------------------


def report_json(report: Any) -> dict[str, Any]:
    """The stable JSON shape of a `Report`; `totals` is `Figures.to_json()`, as in `--status`
    and `--metrics`."""
    return {
        "since": report.since,
        "totals": report.figures.to_json(),
        "directories": [
            {
                "directory": d.directory,
                "total": d.total,
                "successful": d.successful,
                "failed": d.failed,
                "successRate": d.figures.to_json()["successRate"],
                "avgDurationMs": round(d.avg_duration_ms, 3),
                "bytes": d.bytes,
                "lastFile": d.last_file,
                "lastAt": d.last_at,
            }
            for d in report.directories
        ],
        "errorsByCategory": dict(report.errors_by_category),
    }


def cmd_report(state_dir: Path, since: str | None, as_json: bool, out: TextIO | None = None) -> int:
    """Successes and failures per watched directory, and errors by category."""
    from obtui.tracking.interfaces import Report

    out = safe_out(out)
    try:
        store = _open(state_dir)
        if store is None:
            report = Report(since=since)
        else:
            try:
                report = store.report(since)
            finally:
                store.close()
    except (sqlite3.Error, SchemaError) as exc:
        return _db_failed(state_dir, exc)
    if as_json:
        dump_json(out, report_json(report))
        return 0
    if store is None:
        _no_records(state_dir, out)
        return 0
    out.write(f"Success report, {since_words(since)}\n")
    if not report.directories:
        out.write("\nno files processed in that time\n")
    for d in report.directories:
        last = d.last_file or "-"
        if d.last_file and d.last_file.startswith(d.directory.rstrip("/") + "/"):
            last = d.last_file[len(d.directory.rstrip("/")) + 1 :]
        out.write(f"\n{d.directory}\n")
        write_rows(
            out,
            [
                ("Processed", num(d.total)),
                ("Successful", f"{num(d.successful)} ({pct(d.successful, d.total)})"),
                ("Failed", f"{num(d.failed)} ({pct(d.failed, d.total)})"),
                ("Avg duration", ms(d.avg_duration_ms) if d.successful else "-"),
                ("Bytes", format_size(d.bytes)),
                ("Last file", f"{last}, {when(d.last_at)}"),
            ],
        )
    fig = report.figures
    out.write(
        f"\nTotals: {num(fig.processed)} processed, {num(fig.successful)} successful ({percent(fig.success_rate)}), "
        f"{num(fig.failed)} failed, {num(fig.error_records)} error records\n"
    )
    if report.errors_by_category:
        out.write("\nErrors by category:\n")
        category_rows(out, report.errors_by_category)
    return 0


# ---- --errors ---------------------------------------------------------------------------------


def normalise_category(name: str) -> str:
    """The stored category for `name`, case-insensitive, with or without an "Error" suffix
    (FileAccess, fileaccess, FileAccessError). Raises ValueError listing the categories."""
    key = name.strip().lower().removesuffix("error")
    for c in Category:
        if c.value.lower() in (key, key.replace("pattern", "patternmatching")):
            return c.value
    raise ValueError(f"unknown category {name!r}; one of: {', '.join(c.value for c in Category)}")


def cmd_errors(
    state_dir: Path,
    since: str | None,
    limit: int,
    as_json: bool,
    category: str | None = None,
    out: TextIO | None = None,
) -> int:
    """Error records, newest first."""
    out = safe_out(out)
    try:
        category = normalise_category(category) if category else None
    except ValueError as exc:
        print(f"obtui: --category: {exc}", file=sys.stderr)
        return 2
    try:
        store = _open(state_dir)
        records = []
        if store is not None:
            try:
                records = store.errors(since, limit, category)
            finally:
                store.close()
    except (sqlite3.Error, SchemaError) as exc:
        return _db_failed(state_dir, exc)
    if as_json:
        dump_json(out, [r.to_json() for r in records])
        return 0
    if store is None:
        _no_records(state_dir, out)
        return 0
    what = f"{since_words(since)}" + (f", category {category}" if category else "")
    if not records:
        out.write(f"no errors recorded ({what})\n")
        return 0
    out.write(f"{len(records)} error(s), newest first ({what}):\n")
    for r in records:
        out.write(f"\n{r.error_id}  {when(r.timestamp)}  {r.severity}  {r.category}\n")
        name = f"{r.name} ({r.code})" if r.code else r.name
        out.write(f"  {r.component}/{r.operation}: {name + ': ' if name else ''}{r.message}\n")
        details = [("file", r.file_path), ("rule", r.rule), ("suggestion", r.suggestion)]
        if r.recovery_attempted:
            outcome = "succeeded" if r.recovery_successful else "did not help"
            details.append(("recovery", f"{r.recovery_fallback or 'retried'} ({outcome})"))
        details += _stderr_rows(r.context)
        write_rows(out, [(k, v) for k, v in details if v])
    return 0


STDERR_LINES = 10


def _stderr_rows(context: Any) -> list[tuple[str, str]]:
    """The last lines of a command's stderr (what its suggestion points the user to)."""
    tail = context.get("stderr_tail") if isinstance(context, dict) else None
    lines = [line for line in str(tail or "").rstrip().splitlines() if line.strip()][-STDERR_LINES:]
    return [("stderr" if i == 0 else "", line) for i, line in enumerate(lines)]


# ---- --status ---------------------------------------------------------------------------------


def cmd_status(state_dir: Path, as_json: bool, out: TextIO | None = None) -> int:
    """Whether a runner is alive, and the one-screen status block of its last snapshot.
    Exit code 0 when a runner is alive, 3 when not."""
    from obtui.cli.status import render_status, status_json

    out = safe_out(out)
    pid = runner_pid(state_dir)
    status = read_status(state_dir)
    if pid and status and status.get("pid") != pid:
        status = None  # left by an earlier runner; the live one has not written its own yet
    snap = (status or {}).get("snapshot") or None
    by_cat: dict[str, int] = {}
    if snap and snap.get("started_at"):
        try:
            store = _open(state_dir)
            if store is not None:
                try:
                    started = datetime.fromtimestamp(snap["started_at"], UTC).isoformat()
                    by_cat = store.report(started).errors_by_category
                finally:
                    store.close()
        except (sqlite3.Error, SchemaError, ValueError, TypeError):
            pass  # the status block stands without the error summary
    facts = _store_facts(state_dir)
    if as_json:
        doc = status_json(pid, status, by_cat, time.time())
        doc["store"] = facts and {
            "path": facts.path,
            "sizeBytes": facts.size_bytes,
            "records": facts.records,
            "oldestRecord": facts.oldest,
        }
        dump_json(out, doc)
    else:
        render_status(out, state_dir, pid, status, by_cat, time.time())
        if facts is not None:
            oldest = f"oldest {when(facts.oldest)}" if facts.oldest else "none kept"
            out.write(
                f"\nRecord Store: {format_size(facts.size_bytes)}, {num(facts.records)} records, "
                f"{oldest}\n  {facts.path}\n"
            )
    return 0 if pid is not None else 3


def _store_facts(state_dir: Path) -> Any:
    """The store's size and oldest record (`StoreFacts`), None without a readable database."""
    from obtui.tracking.retention import store_facts

    try:
        store = _open(state_dir)
        if store is None:
            return None
        try:
            return store_facts(store)
        finally:
            store.close()
    except (sqlite3.Error, SchemaError):
        return None


# ---- --metrics --------------------------------------------------------------------------------


def cmd_metrics(state_dir: Path, as_json: bool, out: TextIO | None = None) -> int:
    """The latest metrics sample (metrics.jsonl, else status.json) and the record counts."""
    from obtui.api.snapshot import Figures
    from obtui.cli.status import render_metrics

    out = safe_out(out)
    # The newer of the last appended sample and the live snapshot in status.json.
    candidates = []
    if (last := read_last_metrics(state_dir)) is not None:
        candidates.append((str(last.get("timestamp") or ""), "metrics.jsonl", last))
    status = read_status(state_dir) or {}
    if metrics := (status.get("snapshot") or {}).get("metrics"):
        live = {"timestamp": status.get("written_at"), "pid": status.get("pid"), "metrics": metrics}
        candidates.append((str(status.get("written_at") or ""), "status.json", live))
    _, source, sample = max(candidates, key=lambda c: c[0]) if candidates else ("", None, None)
    counts: dict[str, int] = {}
    try:
        store = _open(state_dir)
        if store is not None:
            try:
                counts = store.counts()
            finally:
                store.close()
    except (sqlite3.Error, SchemaError) as exc:
        return _db_failed(state_dir, exc)
    if as_json:
        s = sample or {}
        doc = {"timestamp": s.get("timestamp"), "pid": s.get("pid"), "metrics": s.get("metrics") or {}}
        figures = Figures.of_json(doc["metrics"]).to_json() if sample else None
        dump_json(out, {**doc, "figures": figures, "source": source, "records": counts})
        return 0
    if sample is None and not counts:
        out.write(
            f"no metrics yet in {state_dir} (is --state-dir right? a runner writes them while it runs)\n"
        )
        return 0
    render_metrics(out, sample, source, counts)
    return 0
