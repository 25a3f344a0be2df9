"""Idle CPU, peak memory and start-up time, each next to a peer measured in the same session.

    .venv/bin/python bench/resources.py [--idle-seconds 30] [--files 100000]

- idle CPU: obtui watching two empty buckets for N seconds vs `inotifywait -m` on the same folders
- peak RSS after processing N files (note action) vs the interpreter's own RSS before starting
- start-up of `obtui --report` vs `python -c pass` and `python -c "import sqlite3, json"`
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import burst  # noqa: E402

from obtui.config.model import RuleConfig  # noqa: E402


def cpu_of(pid: int) -> float:
    """User+system CPU seconds of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


def idle_cpu(seconds: float) -> tuple[float, float | None]:
    with tempfile.TemporaryDirectory() as tmp:
        a, b, state = Path(tmp, "a"), Path(tmp, "b"), Path(tmp, "s")
        a.mkdir()
        b.mkdir()
        proc = subprocess.Popen(
            [sys.executable, "-m", "obtui", "--headless", "--state-dir", str(state), str(a), str(b)],
            stderr=subprocess.DEVNULL,
            env={**os.environ, "OBTUI_CONFIG": str(Path(tmp, "none.toml"))},
        )
        burst.wait_until(lambda: (state / "status.json").exists(), 30)
        c0 = cpu_of(proc.pid)
        time.sleep(seconds)  # measuring idleness: the wait is the measurement
        ours = (cpu_of(proc.pid) - c0) / seconds * 100
        proc.terminate()
        proc.wait(30)
        peer = None
        if shutil.which("inotifywait"):
            p = subprocess.Popen(["inotifywait", "-m", "-q", "-r", str(a), str(b)], stdout=subprocess.DEVNULL)
            time.sleep(1)
            c0 = cpu_of(p.pid)
            time.sleep(seconds)
            peer = (cpu_of(p.pid) - c0) / seconds * 100
            p.kill()
            p.wait()
    return ours, peer


def peak_rss(n: int) -> tuple[float, float, float]:
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rule = RuleConfig(name="notes", patterns=("*.txt",), output_dir=str(root / "notes"))
        res = burst.obtui_burst(root, n, rule, "rss")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  ({n:,} files: {res['files/s']:.0f} files/s, lost {res['lost']})")
    return base, peak, res["note processes' RSS MB"]


def startup(cmd: list[str], runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--idle-seconds", type=float, default=30)
    ap.add_argument("--files", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as state:
        ours = startup([sys.executable, "-m", "obtui", "--report", "--state-dir", state])
        bare = startup([sys.executable, "-c", "pass"])
        imp = startup([sys.executable, "-c", "import sqlite3, json"])
    print(
        f"start-up: obtui --report {ours:.0f} ms · python -c pass {bare:.0f} ms · import sqlite3,json {imp:.0f} ms"
        f" → ratio to bare python {ours / bare:.2f}x"
    )
    o, p = idle_cpu(args.idle_seconds)
    print(
        f"idle CPU over {args.idle_seconds:.0f}s: obtui {o:.2f}% of a core · inotifywait -m "
        + (f"{p:.2f}%" if p is not None else "(not installed)")
    )
    base, peak, helpers = peak_rss(args.files)
    print(
        f"peak RSS: {peak:.0f} MB after {args.files:,} files, and {helpers:.0f} MB in its note processes"
        f" (interpreter with obtui imported: {base:.0f} MB)"
    )


if __name__ == "__main__":
    main()
