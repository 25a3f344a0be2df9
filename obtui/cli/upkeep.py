"""`obtui --retry WHAT...`, `--forget PATH...` and `--prune AGE`: what an operator does to the
records once something went wrong and was fixed. No Textual, no Rich.

Exit codes: 0 done (or nothing to do), 1 some WHAT/PATH named nothing on record, 2 bad arguments
or an unusable database.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path
from typing import TextIO

from obtui.cli.text import safe_out
from obtui.tracking.runtime_files import runner_pid
from obtui.tracking.schema import SchemaError
from obtui.tracking.sqlite_store import DB_NAME, SQLiteStore


def _no_records(state_dir: Path, out: TextIO) -> None:
    out.write(f"no records yet in {state_dir} (is --state-dir right?)\n")


def _db_failed(state_dir: Path, exc: Exception) -> int:
    print(f"obtui: cannot use the records in {state_dir}: {exc}", file=sys.stderr)
    return 2


def _who_processes(state_dir: Path) -> str:
    pid = runner_pid(state_dir)
    if pid is not None:
        return f"the runner (pid {pid}) processes them within a second or two"
    return (
        f"no runner is alive on {state_dir}: the next start processes them "
        "(obtui --headless, the dashboard, or obtui --once)"
    )


def cmd_retry(state_dir: Path, whats: list[str], out: TextIO | None = None) -> int:
    """Ask the runner to process failed files again (moved ones are brought back first)."""
    from obtui.tracking import requests as rq

    out = safe_out(out)
    if not (state_dir / DB_NAME).is_file():
        _no_records(state_dir, out)
        return 0
    try:
        store = SQLiteStore(state_dir)
        try:
            plan = rq.plan_retry(store, whats)
            new, already = rq.request_retry(store, list(plan.entries.values()))
        finally:
            store.close()
    except (sqlite3.Error, SchemaError) as exc:
        return _db_failed(state_dir, exc)
    for path in plan.not_failed:
        out.write(
            f"{path}: its latest outcome is a success; nothing to retry (--forget makes it run again)\n"
        )
    for e in plan.gone:
        where = f" nor at {e.moved_to}" if e.moved_to else ""
        out.write(f"{e.path}: the file is no longer there{where}; drop it in again (or --forget it)\n")
    for why in plan.unknown:
        print(f"obtui: --retry {why}", file=sys.stderr)
    if not plan.entries:
        if not plan.not_failed and not plan.unknown and not plan.gone:
            out.write("nothing to retry: no file's latest outcome is a failure\n")
        return 1 if plan.unknown else 0
    out.write(f"retry requested for {len(plan.entries)} file(s)")
    out.write(f" ({already} of them already waiting)\n" if already else "\n")
    for e in plan.entries.values():
        back = f"  (back from {e.moved_to})" if e.moved_to else ""
        out.write(f"  {e.path}{back}\n")
    out.write(_who_processes(state_dir) + "\n")
    return 1 if plan.unknown else 0


def cmd_forget(state_dir: Path, targets: list[str], out: TextIO | None = None) -> int:
    """Remove files (or every file of a bucket or folder) from the manifest."""
    from obtui.tracking import requests as rq

    out = safe_out(out)
    if not (state_dir / DB_NAME).is_file():
        _no_records(state_dir, out)
        return 0
    missing = []
    try:
        store = SQLiteStore(state_dir)
        try:
            for t in targets:
                n = rq.forget(store, t)
                if n:
                    out.write(f"forgot {n} file(s): {t}\n")
                else:
                    missing.append(t)
        finally:
            store.close()
    except (sqlite3.Error, SchemaError) as exc:
        return _db_failed(state_dir, exc)
    for t in missing:
        print(f"obtui: --forget {t}: not on record (nothing to forget)", file=sys.stderr)
    if len(missing) < len(targets):
        out.write(
            "the next scan processes them again: the next start, obtui --once, or a running "
            "runner's rescan (r in the dashboard, or every rescan_seconds)\n"
        )
    return 1 if missing else 0


def cmd_prune(state_dir: Path, age_text: str, out: TextIO | None = None) -> int:
    """Remove success and error records older than AGE; keep the manifest."""
    from obtui.config.units import parse_duration, spell_duration
    from obtui.tracking import requests as rq
    from obtui.tracking.retention import cutoff, prune

    out = safe_out(out)
    try:
        age = parse_duration(age_text)
    except ValueError as exc:
        print(f"obtui: --prune: {exc}", file=sys.stderr)
        return 2
    if not (state_dir / DB_NAME).is_file():
        _no_records(state_dir, out)
        return 0
    try:
        store = SQLiteStore(state_dir)
        try:
            result = prune(store, cutoff(age))
            alive = runner_pid(state_dir) is not None
            if alive and result.removed:
                rq.request_history_reload(store)  # the runner's report figures follow
        finally:
            store.close()
    except (sqlite3.Error, SchemaError) as exc:
        return _db_failed(state_dir, exc)
    older = "every record" if age == 0 else f"records older than {spell_duration(age)}"
    if not result.removed:
        out.write(f"nothing to remove: no {older.removeprefix('every ')} (before {result.before})\n")
        return 0
    out.write(
        f"removed {result.successes} success and {result.errors} error record(s) ({older}, before "
        f"{result.before}); the manifest is kept, so no file is processed again\n"
    )
    return 0
