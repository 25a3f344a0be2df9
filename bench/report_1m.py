"""How long `report()` and `obtui --report` take over a large record store.

    .venv/bin/python bench/report_1m.py [--records 1000000] [--dirs 20] [--days 30] [--state DIR]

Fills a temporary state dir (or reuses --state DIR when it already holds records) through
`commit_batch` in big batches: 95% successes, 5% errors (half of them failed files), spread over
`--days` days and `--dirs` watch dirs. Then times `report()` for all time and for several
`since` values (on and off the hour), and `cmd_report` (text and JSON) in this process and as a
fresh `python -m obtui --report` process. Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import io
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from obtui.cli import reports as cli_reports  # noqa: E402
from obtui.tracking.records import (  # noqa: E402
    Category,
    ErrorRecord,
    ManifestEntry,
    ManifestStatus,
    Severity,
    SuccessRecord,
)
from obtui.tracking.sqlite_store import SQLiteStore  # noqa: E402

BATCH = 50_000


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fill(store: SQLiteStore, n: int, dirs: int, days: int, end: datetime) -> float:
    rng = random.Random(1)
    span = days * 86400
    t0 = time.perf_counter()
    done = 0
    cats = list(Category)
    while done < n:
        items: list[tuple[SuccessRecord | ErrorRecord, ManifestEntry | None]] = []
        for i in range(done, min(n, done + BATCH)):
            ts = iso(end - timedelta(seconds=span * (1 - i / n)))  # oldest first, like real life
            wd = f"/data/bucket{rng.randrange(dirs):02d}"
            path = f"{wd}/file{i:07d}.txt"
            ent = ManifestEntry(path, wd, f"{i:064x}", ManifestStatus.DONE, ts, 1000, i, i, "notes")
            if rng.random() < 0.95:
                rec: SuccessRecord | ErrorRecord = SuccessRecord(
                    ts, path, wd, "notes", "note", path + ".obs.md", ("*.txt",),
                    duration_ms=rng.uniform(5, 80), bytes_processed=rng.randrange(100, 100_000), sha256=ent.sha256,
                )  # fmt: skip
            else:
                failed = rng.random() < 0.5
                rec = ErrorRecord(
                    ts, Severity.ERROR, rng.choice(cats), "Processor", "readFile", "EACCES: permission denied",
                    file_path=path, watch_dir=wd, rule="notes",
                )  # fmt: skip
                ent = ManifestEntry(path, wd, ent.sha256, ManifestStatus.FAILED, ts) if failed else None  # type: ignore[assignment]
            items.append((rec, ent))
        store.commit_batch(items)
        done += len(items)
        rate = done / (time.perf_counter() - t0)
        print(f"\r  inserted {done:,} records ({rate:,.0f}/s)", end="", flush=True)
    print()
    return time.perf_counter() - t0


def timed(label: str, fn, repeat: int = 3) -> None:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    print(f"  {label:<48} {best * 1000:8.1f} ms (best of {repeat})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--dirs", type=int, default=20)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--state", type=Path, help="state dir to fill or reuse (default: a temporary one)")
    args = ap.parse_args()
    tmp = None
    if args.state is None:
        tmp = tempfile.TemporaryDirectory(prefix="obtui-bench-")
        args.state = Path(tmp.name) / "state"
    end = datetime.now(UTC).replace(microsecond=0)
    store = SQLiteStore(args.state)
    have = store.counts()
    if have["successes"] + have["errors"] == 0:
        print(f"filling {args.state} with {args.records:,} records ...")
        secs = fill(store, args.records, args.dirs, args.days, end)
        print(f"  fill took {secs:.1f} s")
    else:
        print(f"reusing {args.state}: {have['successes'] + have['errors']:,} records")
    db = args.state / "obtui.db"
    print(f"  database {db.stat().st_size / 1e6:,.0f} MB, counts {store.counts()}")
    store.close()

    print("report() on a fresh store (cold connection each time):")
    for label, since in [
        ("all time", None),
        ("since 24h (off the hour)", iso(end - timedelta(hours=24, minutes=17, seconds=3))),
        ("since 7d (on the hour)", iso((end - timedelta(days=7)).replace(minute=0, second=0))),
        ("since 29d (off the hour)", iso(end - timedelta(days=29, minutes=31))),
    ]:

        def once(since: str | None = since) -> None:
            s = SQLiteStore(args.state, readonly=True)
            s.report(since)
            s.close()

        timed(label, once)
    print("cmd_report in this process:")
    timed("text, all time", lambda: cli_reports.cmd_report(args.state, None, False, out=io.StringIO()))
    timed(
        "json, since 24h",
        lambda: cli_reports.cmd_report(args.state, cli_reports.parse_since("24h"), True, out=io.StringIO()),
    )
    print("a fresh process (python startup included):")
    cmd = [sys.executable, "-m", "obtui", "--report", "--state-dir", str(args.state)]
    root = Path(__file__).resolve().parent.parent
    timed("python -m obtui --report", lambda: subprocess.run(cmd, capture_output=True, check=True, cwd=root))
    timed("python -m obtui --report --since 24h --json",
          lambda: subprocess.run([*cmd, "--since", "24h", "--json"], capture_output=True, check=True, cwd=root))  # fmt: skip
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
