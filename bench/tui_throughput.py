"""What the dashboard costs the engine, and how responsive it stays under a burst.

    .venv/bin/python bench/tui_throughput.py [--files 20000] [--rounds 1] [--key-every 0.25]

The same moved-in burst of N files (note action, bench/burst.py's files, one config file) runs:
  (a) headless: the real `obtui --headless` binary, in its own process;
  (b) with the TUI: the real `make_app` on an `EngineProcess`, wired as `run_tui` wires it (the
      engine in a child process, the app in this one), run by Textual's headless driver
      (`run_test`) with its real 4×/s poll timer.
files/s is N over the time from the first rename to the moment the store holds N outcomes (read
from the SQLite file every 50 ms by a thread of this process, the same way for both). During (b),
every `--key-every` seconds a key is sent, `?` (opens the help screen) and escape (closes it) in
turn; each key's latency is
the time from sending it to the first frame of the new screen being rendered. Keys come one at a
time, `--key-every` seconds apart, at a typing pace. Figures are printed side by side;
nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import burst  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

CONFIG = """\
[runner]
concurrency = 4
debounce_ms = 200
rescan_seconds = 3600

[[buckets]]
path = {bucket}

[[rules]]
name = "notes"
patterns = ["*.txt"]
action = "note"
output_dir = {out}
"""


class Outcomes:
    """Counts the outcomes on record (successes + failed files) from a thread, every 50 ms."""

    def __init__(self, state: Path, n: int) -> None:
        self.db, self.n = state / "obtui.db", n
        self.count = 0
        self.finished_at: float | None = None
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="bench-outcomes", daemon=True)
        self._thread.start()

    def _read(self) -> int:
        if not self.db.exists():
            return 0
        with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)) as c:
            ok = c.execute("select count(*) from successes").fetchone()[0]
            failed = c.execute("select count(distinct file_path) from errors").fetchone()[0]
        return int(ok) + int(failed)

    def _watch(self) -> None:
        while not self.done.is_set():
            with contextlib.suppress(sqlite3.Error):
                self.count = self._read()
            if self.count >= self.n:
                self.finished_at = time.monotonic()
                self.done.set()
                return
            time.sleep(0.05)

    def wait(self, timeout: float) -> bool:
        return self.done.wait(timeout)

    def stop(self) -> None:
        self.done.set()
        self._thread.join(5)


MOVER = "import os, sys\nfor e in os.scandir(sys.argv[1]):\n    os.rename(e.path, os.path.join(sys.argv[2], e.name))\n"


def move_all(src: Path, bucket: Path) -> subprocess.Popen[bytes]:
    """Rename every file of `src` into `bucket` from another process, as another program would
    (a thread of this one would compete with the UI for the GIL)."""
    return subprocess.Popen([sys.executable, "-c", MOVER, str(src), str(bucket)])


def stage(root: Path, label: str, n: int) -> tuple[Path, Path, Path, Path]:
    src, bucket, state = root / f"{label}-src", root / f"{label}-bucket", root / f"{label}-state"
    burst.make_files(src, n)
    bucket.mkdir()
    config = root / f"{label}.toml"
    config.write_text(
        CONFIG.format(bucket=json.dumps(str(bucket)), out=json.dumps(str(root / f"{label}-out"))),
        encoding="utf-8",
    )
    return src, bucket, state, config


def figures(outcomes: Outcomes, n: int, t0: float) -> dict[str, float]:
    elapsed = (outcomes.finished_at or time.monotonic()) - t0
    return {"files/s": n / elapsed, "seconds": elapsed, "lost": n - outcomes.count}


def status_ready(state: Path) -> bool:
    from obtui.tracking.runtime_files import read_status

    status = read_status(state)
    snap = (status or {}).get("snapshot") or {}
    buckets = snap.get("buckets") or []
    return snap.get("state") == "running" and bool(buckets) and all(b["state"] == "watching" for b in buckets)


def headless(root: Path, n: int, label: str) -> dict[str, float]:
    src, bucket, state, config = stage(root, label, n)
    cmd = [sys.executable, "-m", "obtui", "--headless", "--config", str(config), "--state-dir", str(state)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not burst.wait_until(lambda: status_ready(state), 60):
            raise SystemExit("obtui --headless did not start watching within 60 s")
        outcomes = Outcomes(state, n)
        t0 = time.monotonic()
        move_all(src, bucket).wait()
        outcomes.wait(600)
        out = figures(outcomes, n, t0)
        outcomes.stop()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    return out


def with_tui(root: Path, n: int, label: str, key_every: float) -> dict[str, float]:
    return asyncio.run(_with_tui(root, n, label, key_every))


async def _with_tui(root: Path, n: int, label: str, key_every: float) -> dict[str, float]:
    from textual import events

    from obtui.config.loader import load_config
    from obtui.hosting.process import EngineProcess
    from obtui.tui.app import make_app
    from obtui.tui.launch import _LazyStore
    from obtui.tui.screens.dashboard import DashboardScreen
    from obtui.tui.screens.help import HelpScreen

    src, bucket, state, config_file = stage(root, label, n)
    config = load_config(config_file, required=True)
    host = EngineProcess(config, state)
    store = _LazyStore(state)
    app = make_app(host, store, config, config_path=None, themes_dirs=[ROOT / "themes"], cli_buckets=[])
    app.freeze_gc = True  # as `run_tui` sets it
    latencies: list[float] = []
    polls = 0
    original_poll = DashboardScreen.poll

    def counting_poll(self: DashboardScreen) -> None:
        nonlocal polls
        polls += 1
        original_poll(self)

    def ready() -> bool:
        snap = host.snapshot()
        return (
            snap.state == "running"
            and bool(snap.buckets)
            and all(b.state == "watching" for b in snap.buckets)
        )

    # A key is answered when the first frame of the screen it opens is rendered: Textual hands
    # each frame to `App._display` (the headless driver then writes nothing).
    painted: list[tuple[object, float]] = []
    original_display = app._display

    def display(screen: object, renderable: object) -> None:
        if renderable is not None:
            painted.append((screen, time.perf_counter()))
        original_display(screen, renderable)  # type: ignore[arg-type]

    app._display = display  # type: ignore[method-assign]
    DashboardScreen.poll = counting_poll  # type: ignore[method-assign]
    try:
        async with app.run_test(size=(100, 30)) as pilot:  # the app starts the engine on mount
            driver = app._driver
            assert driver is not None
            while not ready():
                await asyncio.sleep(0.01)
            outcomes = Outcomes(state, n)
            t0, polls_before, cpu0 = time.monotonic(), polls, time.process_time()
            mover = move_all(src, bucket)
            keys = itertools.cycle((("question_mark", "?", HelpScreen), ("escape", "\x1b", DashboardScreen)))
            while not outcomes.done.is_set() and time.monotonic() - t0 < 600:
                await asyncio.sleep(key_every if key_every > 0 else 0.05)
                if outcomes.done.is_set() or key_every <= 0:
                    continue
                key, char, screen = next(keys)
                # Sent as a terminal driver's input thread sends a key (not `pilot.press`, whose
                # wait for an idle process lasts up to 1 s while the engine keeps it busy).
                painted.clear()
                k0 = time.perf_counter()
                driver.send_message(events.Key(key, char))
                while not (isinstance(app.screen, screen) and painted and painted[-1][0] is app.screen):
                    await asyncio.sleep(0.0005)
                latencies.append((painted[-1][1] - k0) * 1000)
            out = figures(outcomes, n, t0)
            outcomes.stop()
            out["polls/s"] = (polls - polls_before) / out["seconds"]
            out["UI cpu %"] = 100 * (time.process_time() - cpu0) / out["seconds"]
            mover.wait()
            if not isinstance(app.screen, DashboardScreen):
                await pilot.press("escape")
            q0 = time.monotonic()
            await pilot.press("q")  # the real quit path: graceful stop, the app exits when done
            while app.is_running and time.monotonic() - q0 < 60:
                await asyncio.sleep(0.01)
            out["quit s"] = time.monotonic() - q0
    finally:
        DashboardScreen.poll = original_poll  # type: ignore[method-assign]
        host.request_stop()
        if not host.join(60):
            host.kill()
        store.close()
    lat = sorted(latencies)
    out["keys"] = float(len(lat))
    out["key p50 ms"] = statistics.median(lat) if lat else float("nan")
    out["key p95 ms"] = lat[max(0, int(len(lat) * 0.95) - 1)] if lat else float("nan")
    out["key max ms"] = lat[-1] if lat else float("nan")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=1, help="alternate (a) and (b) this many times")
    ap.add_argument("--key-every", type=float, default=0.25, help="seconds between keys in (b); 0: no keys")
    args = ap.parse_args()
    n = args.files
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {n:,} files moved in per run")
    with tempfile.TemporaryDirectory(prefix="obtui-tui-bench-") as tmp:
        root = Path(tmp)
        a_rates, b_rates = [], []
        for r in range(args.rounds):
            # Separate folders per run (each label has its own), so no run finds another's notes.
            a = headless(root, n, f"a{r}")
            b = with_tui(root, n, f"b{r}", args.key_every)
            a_rates.append(a["files/s"])
            b_rates.append(b["files/s"])
            print(f"round {r + 1}")
            print(f"  (a) headless engine      : {burst.fmt(a)}")
            shown = ("files/s", "seconds", "lost", "polls/s", "UI cpu %", "quit s")
            print(f"  (b) engine + TUI         : {burst.fmt({k: b[k] for k in shown})}")
            print(f"      ratio (b)/(a) files/s: {b['files/s'] / a['files/s']:.2f}x")
            print(
                f"      keys during the burst: {int(b['keys'])} (? and escape in turn), "
                f"p50 {b['key p50 ms']:.1f} ms, p95 {b['key p95 ms']:.1f} ms, max {b['key max ms']:.1f} ms"
            )
        if args.rounds > 1:
            ma, mb = statistics.median(a_rates), statistics.median(b_rates)
            print(f"median files/s: headless {ma:,.1f}, with TUI {mb:,.1f}, ratio {mb / ma:.2f}x")


if __name__ == "__main__":
    main()
