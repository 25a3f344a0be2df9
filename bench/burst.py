"""Throughput, CPU and latency of obtui next to shell peers and the bare per-file loop, run in
the same session on the same kind of files.

    .venv/bin/python bench/burst.py [--files 20000] [--drops 50] [--concurrency 2] [--no-watchmedo]

Runs, each on its own N freshly made files (moved into the watched folder in one burst):
  - the bare per-file loop (`bench/ceiling.py`): read, sha256, regex grep, atomic note write,
    one SQLite insert + commit per file: the ceiling for the note action;
  - `obtui --headless`, note rule               vs  inotifywait -m | xargs -P2 cp (when installed)
                                                    and watchmedo shell-command cp;
  - `obtui --headless`, `cp {path} OUT/` rule   vs  find | xargs -P2 -I{} cp (one cp per file);
  - a latency series of single drops (drop -> record) for the note action and the cp rule.
obtui runs as the real CLI in a child process, logging included. For every run it prints files/s,
CPU seconds per 1,000 files (user + system of the run's processes, from `getrusage` of reaped
children), files lost and (obtui) files recorded twice. Figures are ratios against the runs of
the same session, never absolute targets; the machine's load is printed with them.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from obtui.config.model import BucketConfig, Config, RuleConfig, RunnerConfig  # noqa: E402
from obtui.engine.engine import Engine  # noqa: E402
from obtui.hosting.thread import EngineThread  # noqa: E402

HERE = Path(__file__).resolve().parent
Row = dict[str, float]


def make_files(folder: Path, n: int, prefix: str = "f") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"{prefix}{i:06d}.txt").write_text(f"file {i}\nTODO item {i}\n#bench line\n" * 4)


def move_all(src: Path, dest: Path) -> None:
    for e in os.scandir(src):
        os.rename(e.path, dest / e.name)


def count(folder: Path, suffix: str) -> int:
    try:
        return sum(1 for e in os.scandir(folder) if e.name.endswith(suffix))
    except FileNotFoundError:
        return 0


def wait_count(get: Callable[[], int], n: int, quiet: float = 5.0, limit: float = 900) -> int:
    """Wait until `get()` reaches `n`, or stopped growing for `quiet` seconds (a run that lost
    files never gets there). Returns the last count."""
    end = time.monotonic() + limit
    last, last_change = -1, time.monotonic()
    while time.monotonic() < end:
        c = get()
        if c >= n:
            return c
        if c != last:
            last, last_change = c, time.monotonic()
        elif time.monotonic() - last_change >= quiet:
            return c
        time.sleep(0.05)
    return get()


def wait_until(cond: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a live process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def note_processes_rss_mb(pid: int) -> float:
    """Peak RSS of the note processes `pid` started (`[runner] note_processes`), summed."""
    total = 0.0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            kids = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
        except OSError:
            continue
        for kid in kids:
            try:
                if b"note_worker" in Path(f"/proc/{kid}/cmdline").read_bytes():
                    total += peak_rss_mb(int(kid))
            except OSError:
                pass
    return total


def row(n: int, done: int, elapsed: float, cpu: float, **extra: float) -> Row:
    return {"files/s": done / elapsed, "CPU s/1k": cpu / max(done, 1) * 1000, "lost": n - done} | extra


# ---- the ceiling -----------------------------------------------------------------------------


def ceiling(root: Path, n: int) -> Row:
    src, out = root / "ceil-src", root / "ceil-out"
    make_files(src, n)
    cpu0, t0 = children_cpu(), time.monotonic()
    subprocess.run(
        [sys.executable, str(HERE / "ceiling.py"), str(src), str(out), str(root / "ceil.db")],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    elapsed, cpu = time.monotonic() - t0, children_cpu() - cpu0
    return row(n, count(out, ".md"), elapsed, cpu)


# ---- obtui, the real CLI in a child process ---------------------------------------------------


def obtui_headless(root: Path, n: int, rule_toml: str, label: str, concurrency: int) -> Row:
    src, bucket, state = root / f"{label}-src", root / f"{label}-bucket", root / f"{label}-state"
    make_files(src, n)
    bucket.mkdir()
    cfg = root / f"{label}.toml"
    cfg.write_text(
        f'[runner]\nconcurrency = {concurrency}\nrescan_seconds = "1h"\n'
        f'[[buckets]]\npath = "{bucket}"\n[[rules]]\nname = "{label}"\npatterns = ["*.txt"]\n{rule_toml}\n'
    )
    argv = [sys.executable, "-m", "obtui", "--headless", "--config", str(cfg), "--state-dir", str(state)]
    cpu0 = children_cpu()
    proc = subprocess.Popen(argv, stderr=subprocess.DEVNULL, cwd=HERE.parent)
    status = state / "status.json"
    while proc.poll() is None and not (status.exists() and '"running"' in status.read_text()):
        time.sleep(0.05)
    # Idle CPU: watching an empty folder, nothing to do.
    idle0, it0 = proc_cpu(proc.pid), time.monotonic()
    time.sleep(3.0)
    idle = (proc_cpu(proc.pid) - idle0) / (time.monotonic() - it0) * 100
    db = sqlite3.connect(f"file:{state / 'obtui.db'}?mode=ro", uri=True, timeout=5)

    def recorded() -> int:
        try:
            return int(
                db.execute(
                    "select (select count(*) from successes) + (select count(*) from errors)"
                ).fetchone()[0]
            )
        except sqlite3.OperationalError:
            return 0

    t0 = time.monotonic()
    move_all(src, bucket)
    wait_count(recorded, n)
    elapsed = time.monotonic() - t0
    rss, helpers_rss = peak_rss_mb(proc.pid), note_processes_rss_mb(proc.pid)
    proc.send_signal(signal.SIGTERM)
    proc.wait(120)
    cpu = children_cpu() - cpu0
    rows, distinct = db.execute("select count(*), count(distinct file_path) from successes").fetchone()
    db.close()
    extra = {"peak RSS MB": rss, "note processes' RSS MB": helpers_rss, "idle CPU %": idle}
    return row(n, distinct, elapsed, cpu, twice=rows - distinct, **extra)


# ---- the peers --------------------------------------------------------------------------------


def _group_members(pgid: int, name: str) -> list[int]:
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        comm, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        if comm == name and int(rest[2]) == pgid:
            found.append(int(d))
    return found


def watcher_peer(
    root: Path, n: int, label: str, argv: list[str], ready_wait: float, stop: Callable[[int], None]
) -> Row:
    """Start a peer watcher (`argv`, with {bucket} and {out} filled in), move N files into its
    folder, count its copies until they are all there or stop coming, then stop it with
    `stop(pid)` so that it and its children are reaped (their CPU counted)."""
    src, bucket, out = root / f"{label}-src", root / f"{label}-bucket", root / f"{label}-out"
    make_files(src, n)
    bucket.mkdir()
    out.mkdir()
    argv = [a.format(bucket=bucket, out=out) for a in argv]
    cpu0 = children_cpu()
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    time.sleep(ready_wait)  # the peers have no readiness signal; give them time to set their watch
    t0 = time.monotonic()
    move_all(src, bucket)
    got = wait_count(lambda: count(out, ".txt"), n, quiet=3.0)
    elapsed = time.monotonic() - t0
    stop(proc.pid)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return row(n, got, elapsed, children_cpu() - cpu0)


def peer_inotify(root: Path, n: int) -> Row | None:
    if not _which("inotifywait"):
        return None
    pipeline = (
        "inotifywait -m -q -e close_write,moved_to --format '%w%f' {bucket} | xargs -P2 -I{{}} cp {{}} {out}/"
    )

    def stop(pgid: int) -> None:  # end inotifywait only: xargs finishes its input, bash exits
        for pid in _group_members(pgid, "inotifywait"):
            os.kill(pid, signal.SIGTERM)

    return watcher_peer(root, n, "peer", ["bash", "-c", pipeline], 0.5, stop)


def peer_watchmedo(root: Path, n: int) -> Row | None:
    """watchmedo shell-command running cp for each event (patterns must be `**/...`: watchdog 7
    matches absolute paths, so a plain `*.txt` would match nothing)."""
    exe = _which("watchmedo") or str(Path(sys.executable).parent / "watchmedo")
    if not os.path.exists(exe):
        return None
    argv = [exe, "shell-command", "-p", "**/*.txt", "-c", 'cp "${{watch_src_path}}" {out}/', "{bucket}"]
    return watcher_peer(root, n, "wm", argv, 1.0, lambda pid: os.kill(pid, signal.SIGINT))


def peer_find_xargs(root: Path, n: int) -> Row:
    src, out = root / "find-src", root / "find-out"
    make_files(src, n)
    out.mkdir()
    cpu0, t0 = children_cpu(), time.monotonic()
    subprocess.run(["bash", "-c", f"find {src} -type f | xargs -P2 -I{{}} cp {{}} {out}/"], check=True)
    elapsed = time.monotonic() - t0
    return row(n, count(out, ".txt"), elapsed, children_cpu() - cpu0)


def _which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


# ---- latency: single drops, the engine in-process ---------------------------------------------


class ObtuiRun:
    """The real engine on its own thread; times outcomes through its event stream."""

    def __init__(self, bucket: Path, state: Path, rule: RuleConfig, concurrency: int) -> None:
        cfg = Config(
            runner=RunnerConfig(concurrency=concurrency, debounce_ms=200, rescan_seconds=3600),
            buckets=(BucketConfig(path=bucket),),
            rules=(rule,),
        )
        self.engine = Engine(cfg, state, follow_config=False)
        self.done = 0
        self.times: dict[str, float] = {}
        self.cv = threading.Condition()
        self.engine.subscribe(self._on_event)
        self.host = EngineThread(self.engine)

    def _on_event(self, ev: dict) -> None:  # type: ignore[type-arg]
        with self.cv:
            if ev["event"] in ("success", "error"):
                self.done += 1
                self.times[ev["filePath"]] = time.monotonic()
                self.cv.notify_all()

    def __enter__(self) -> ObtuiRun:
        self.host.start()
        end = time.monotonic() + 30
        while time.monotonic() < end and not (
            self.engine.state == "running" and all(w.alive for w in self.engine.watchers.values())
        ):
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.host.request_stop()
        self.host.join(60)

    def wait_done(self, n: int, timeout: float) -> bool:
        with self.cv:
            return self.cv.wait_for(lambda: self.done >= n, timeout)


def obtui_burst(root: Path, n: int, rule: RuleConfig, label: str, concurrency: int = 2) -> Row:
    """The engine in this process (for `bench/resources.py`'s peak RSS): a burst of N files."""
    src, bucket, state = root / f"{label}-src", root / f"{label}-bucket", root / f"{label}-state"
    make_files(src, n)
    bucket.mkdir()
    with ObtuiRun(bucket, state, rule, concurrency) as run:
        t0 = time.monotonic()
        move_all(src, bucket)
        run.wait_done(n, timeout=900)
        elapsed = time.monotonic() - t0
        helpers = note_processes_rss_mb(os.getpid())
    return {
        "files/s": n / elapsed,
        "lost": n - run.done,
        "seconds": elapsed,
        "note processes' RSS MB": helpers,
    }


def latency_series(root: Path, drops: int, rule: RuleConfig, label: str, concurrency: int) -> Row:
    src, bucket, state = root / f"lat-{label}-src", root / f"lat-{label}-bucket", root / f"lat-{label}-state"
    make_files(src, drops, prefix="l")
    bucket.mkdir()
    lat = []
    with ObtuiRun(bucket, state, rule, concurrency) as run:
        for i, e in enumerate(sorted(os.scandir(src), key=lambda e: e.name)):
            dest = bucket / e.name
            t0 = time.monotonic()
            os.rename(e.path, dest)
            run.wait_done(i + 1, timeout=30)
            t1 = run.times.get(str(dest))
            if t1:
                lat.append((t1 - t0) * 1000)
            time.sleep(0.02)  # space the drops: this is a latency series, not a burst
    lat.sort()
    return {
        "p50 ms": statistics.median(lat) if lat else float("nan"),
        "p95 ms": lat[max(0, int(len(lat) * 0.95) - 1)] if lat else float("nan"),
        "lost": drops - len(lat),
    }


# ---- the report -------------------------------------------------------------------------------


def fmt(d: Row | None) -> str:
    if d is None:
        return "(not installed)"
    return ", ".join(f"{k} {v:,.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in d.items())


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # figures appear as they are measured
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--drops", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=2, help="obtui's workers (the peers run xargs -P2)")
    ap.add_argument("--no-watchmedo", action="store_true", help="skip the (slow) watchmedo peer")
    args = ap.parse_args()
    n, c = args.files, args.concurrency
    table: list[tuple[str, Row | None]] = []

    def run(label: str, fn: Callable[[], Row | None]) -> Row | None:
        r = fn()
        table.append((label, r))
        print(f"{label:<44}: {fmt(r)}  [{load()}]")
        return r

    with tempfile.TemporaryDirectory(prefix="obtui-bench-") as tmp:
        root = Path(tmp)
        cp_out = root / "cp-out"
        cp_out.mkdir()
        print(
            f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {n:,} files, concurrency {c}"
        )
        print(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), load())
        ceil = run("bare per-file note loop (ceiling)", lambda: ceiling(root, n))
        note = run(
            "obtui --headless, note rule",
            lambda: obtui_headless(
                root, n, f'action = "note"\noutput_dir = "{root / "notes-out"}"', "note", c
            ),
        )
        peer = run("inotifywait -m | xargs -P2 cp", lambda: peer_inotify(root, n))
        wm = None if args.no_watchmedo else run("watchmedo shell-command cp", lambda: peer_watchmedo(root, n))
        cp = run(
            "obtui --headless, `cp {path} OUT/` rule",
            lambda: obtui_headless(
                root, n, f'action = "command"\ncommand = ["cp", "{{path}}", "{cp_out}/"]', "cp", c
            ),
        )
        find = run("find | xargs -P2 -I{} cp", lambda: peer_find_xargs(root, n))
        note_rule = RuleConfig(name="notes", patterns=("*.txt",), output_dir=str(root / "lat-notes-out"))
        cp_rule = RuleConfig(
            name="cp",
            patterns=("*.txt",),
            action="command",
            command=("cp", "{path}", f"{root / 'lat-cp-out'}/"),
        )
        (root / "lat-cp-out").mkdir()
        print(
            f"latency, note ({args.drops} drops)  : {fmt(latency_series(root, args.drops, note_rule, 'note', c))}"
        )
        print(
            f"latency, cp rule ({args.drops} drops): {fmt(latency_series(root, args.drops, cp_rule, 'cp', c))}"
        )

    print("\n| run | files/s | CPU s / 1,000 files | lost |")
    print("|---|---:|---:|---:|")
    for label, r in table:
        if r is not None:
            name = label.replace("|", "\\|")
            print(f"| {name} | {r['files/s']:,.0f} | {r['CPU s/1k']:.2f} | {r['lost']:.0f} |")
    assert note and cp and ceil and find
    print(f"\nnote / bare loop          : {note['files/s'] / ceil['files/s']:.2f}x  (target >= 0.4x)")
    if peer:
        print(f"note / inotifywait+xargs  : {note['files/s'] / peer['files/s']:.2f}x  (target >= 2.0x)")
    if wm and wm["files/s"]:
        print(f"note / watchmedo          : {note['files/s'] / wm['files/s']:.2f}x")
    print(f"cp rule / find|xargs      : {cp['files/s'] / find['files/s']:.2f}x  (target >= 0.9x)")
    print(f"recorded twice            : note {note['twice']:.0f}, cp {cp['twice']:.0f}")


if __name__ == "__main__":
    main()
