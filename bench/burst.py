"""Throughput and latency of obtui next to shell peers, run in the same process on the same files.

    .venv/bin/python bench/burst.py [--files 20000] [--drops 50]

Prints files/s, lost files and p50/p95 latency for:
  - obtui note action, a moved-in burst           vs  inotifywait -m | xargs -P2 cp (when installed)
  - obtui `cp {path} OUT/` command rule, same burst vs  find | xargs -P2 -I{} cp (one cp per file, like the rule)
  - a latency series of single drops for the note action and the cp rule.
Figures are ratios against the peer run in the same session, never absolute targets.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from obtui.config.model import BucketConfig, Config, RuleConfig, RunnerConfig  # noqa: E402
from obtui.engine.engine import Engine  # noqa: E402
from obtui.hosting.thread import EngineThread  # noqa: E402


def wait_settled(folder: Path, suffix: str, n: int, quiet: float = 3.0, limit: float = 600) -> int:
    """Wait until `n` outputs exist, or the count stopped growing for `quiet` seconds (a peer
    that lost events never gets there). Returns the count."""
    end = time.monotonic() + limit
    last, last_change = -1, time.monotonic()
    while time.monotonic() < end:
        c = count(folder, suffix)
        if c >= n:
            return c
        if c != last:
            last, last_change = c, time.monotonic()
        elif time.monotonic() - last_change >= quiet:
            return c
        time.sleep(0.2)
    return count(folder, suffix)


def make_files(folder: Path, n: int, prefix: str = "f") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"{prefix}{i:06d}.txt").write_text(f"file {i}\nTODO item {i}\n#bench line\n" * 4)


def count(folder: Path, suffix: str) -> int:
    try:
        return sum(1 for e in os.scandir(folder) if e.name.endswith(suffix))
    except FileNotFoundError:
        return 0


def wait_until(cond, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


class ObtuiRun:
    """The real engine on its own thread; counts outcomes through its event stream."""

    def __init__(self, bucket: Path, state: Path, rule: RuleConfig, concurrency: int = 4) -> None:
        cfg = Config(
            runner=RunnerConfig(concurrency=concurrency, debounce_ms=200, rescan_seconds=3600),
            buckets=(BucketConfig(path=bucket),),
            rules=(rule,),
        )
        self.engine = Engine(cfg, state, follow_config=False)
        self.done = 0
        self.failed = 0
        self.times: dict[str, float] = {}
        self.cv = threading.Condition()
        self.target = 1
        self.engine.subscribe(self._on_event)
        self.host = EngineThread(self.engine)

    def _on_event(self, ev: dict) -> None:  # type: ignore[type-arg]
        with self.cv:
            if ev["event"] == "success":
                self.done += 1
                self.times[ev["filePath"]] = time.monotonic()
            elif ev["event"] == "error":
                self.failed += 1
            if self.done + self.failed >= self.target:
                self.cv.notify_all()

    def __enter__(self) -> ObtuiRun:
        self.host.start()
        wait_until(
            lambda: self.engine.state == "running" and all(w.alive for w in self.engine.watchers.values()), 30
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.host.request_stop()
        self.host.join(60)

    def wait_done(self, n: int, timeout: float) -> bool:
        with self.cv:
            self.target = n
            return self.cv.wait_for(lambda: self.done + self.failed >= n, timeout)


def obtui_burst(root: Path, n: int, rule: RuleConfig, label: str) -> dict[str, float]:
    src, bucket, state = root / f"{label}-src", root / f"{label}-bucket", root / f"{label}-state"
    make_files(src, n)
    bucket.mkdir()
    with ObtuiRun(bucket, state, rule) as run:
        t0 = time.monotonic()
        for e in os.scandir(src):
            os.rename(e.path, bucket / e.name)
        ok = run.wait_done(n, timeout=600)
        elapsed = time.monotonic() - t0
    return {
        "files/s": n / elapsed,
        "lost": n - run.done - run.failed if ok else n - run.done,
        "seconds": elapsed,
    }


def watcher_peer_burst(
    root: Path, n: int, label: str, argv: list[str], ready_wait: float
) -> dict[str, float]:
    """Start a peer watcher (`argv`, with {bucket} and {out} filled in), move N files into its
    folder, and count its copies until they are all there or stop coming."""
    src, bucket, out = root / f"{label}-src", root / f"{label}-bucket", root / f"{label}-out"
    make_files(src, n)
    bucket.mkdir()
    out.mkdir()
    argv = [a.format(bucket=bucket, out=out) for a in argv]
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    time.sleep(ready_wait)  # the peers have no readiness signal; give them time to set their watch
    t0 = time.monotonic()
    for e in os.scandir(src):
        os.rename(e.path, bucket / e.name)
    got = wait_settled(out, ".txt", n)
    elapsed = time.monotonic() - t0
    os.killpg(proc.pid, 9)
    proc.wait()
    return {"files/s": got / elapsed, "lost": n - got, "seconds": elapsed}


def peer_inotify_burst(root: Path, n: int) -> dict[str, float] | None:
    if not shutil.which("inotifywait"):
        return None
    pipeline = (
        "inotifywait -m -q -e close_write,moved_to --format '%w%f' {bucket} | xargs -P2 -I{{}} cp {{}} {out}/"
    )
    return watcher_peer_burst(root, n, "peer", ["bash", "-c", pipeline], 0.5)


def peer_watchmedo_burst(root: Path, n: int) -> dict[str, float] | None:
    """watchmedo shell-command running cp for each event (patterns must be `**/...`: watchdog 7
    matches absolute paths, so a plain `*.txt` would match nothing)."""
    exe = shutil.which("watchmedo") or str(Path(sys.executable).parent / "watchmedo")
    if not os.path.exists(exe):
        return None
    argv = [exe, "shell-command", "-p", "**/*.txt", "-c", 'cp "${{watch_src_path}}" {out}/', "{bucket}"]
    return watcher_peer_burst(root, n, "wm", argv, 1.0)


def peer_find_xargs(root: Path, n: int) -> dict[str, float]:
    src, out = root / "find-src", root / "find-out"
    make_files(src, n)
    out.mkdir()
    t0 = time.monotonic()
    subprocess.run(["bash", "-c", f"find {src} -type f | xargs -P2 -I{{}} cp {{}} {out}/"], check=True)
    elapsed = time.monotonic() - t0
    return {"files/s": n / elapsed, "lost": n - count(out, ".txt"), "seconds": elapsed}


def latency_series(root: Path, drops: int, rule: RuleConfig, label: str) -> dict[str, float]:
    src, bucket, state = root / f"lat-{label}-src", root / f"lat-{label}-bucket", root / f"lat-{label}-state"
    make_files(src, drops, prefix="l")
    bucket.mkdir()
    lat = []
    with ObtuiRun(bucket, state, rule) as run:
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
        "p95 ms": lat[int(len(lat) * 0.95) - 1] if lat else float("nan"),
        "lost": drops - len(lat),
    }


def fmt(d: dict[str, float] | None) -> str:
    if d is None:
        return "(not installed)"
    return ", ".join(f"{k} {v:,.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in d.items())


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # figures appear as they are measured
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--drops", type=int, default=50)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="obtui-bench-") as tmp:
        root = Path(tmp)
        out = root / "cp-out"
        out.mkdir()
        note = RuleConfig(name="notes", patterns=("*.txt",), output_dir=str(root / "notes-out"))
        cp = RuleConfig(name="cp", patterns=("*.txt",), action="command", command=("cp", "{path}", f"{out}/"))
        print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {args.files:,} files")
        note_burst = obtui_burst(root, args.files, note, "note")
        peer = peer_inotify_burst(root, args.files)
        print(f"obtui note burst           : {fmt(note_burst)}")
        print(f"inotifywait | xargs -P2 cp : {fmt(peer)}")
        if peer:
            print(f"  ratio note/peer files/s  : {note_burst['files/s'] / peer['files/s']:.2f}x")
        wm = peer_watchmedo_burst(root, args.files)
        print(f"watchmedo shell-command cp : {fmt(wm)}")
        if wm and wm["files/s"]:
            print(f"  ratio note/watchmedo     : {note_burst['files/s'] / wm['files/s']:.2f}x")
        cp_burst = obtui_burst(root, args.files, cp, "cp")
        find = peer_find_xargs(root, args.files)
        print(f"obtui cp-rule burst        : {fmt(cp_burst)}")
        print(f"find | xargs -P2 -I{{}} cp  : {fmt(find)}")
        print(f"  ratio cp-rule/find       : {cp_burst['files/s'] / find['files/s']:.2f}x")
        print(f"latency, note ({args.drops} drops)   : {fmt(latency_series(root, args.drops, note, 'note'))}")
        print(f"latency, cp rule ({args.drops} drops): {fmt(latency_series(root, args.drops, cp, 'cp'))}")


if __name__ == "__main__":
    main()
