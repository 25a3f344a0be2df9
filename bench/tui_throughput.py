"""What the dashboard costs the engine, and how responsive it stays under a burst.

    .venv/bin/python bench/tui_throughput.py [--files 20000] [--rounds 1] [--key-every 0.25]

The same moved-in burst of N files (note action, bench/burst.py's files and engine set-up) runs:
  (a) headless: the engine thread only;
  (b) with the TUI: the real `make_app` around the same kind of engine thread, as `run_tui` wires
      it, run by Textual's headless driver (`run_test`) with its real 4×/s poll timer, in this
      process (the UI thread and the engine thread share the GIL, as they do in `obtui DIR`).
files/s is N over the time from the first rename to the last outcome (taken in the engine's own
outcome callback). During (b), every `--key-every` seconds `?` opens the help screen and escape
closes it; each key's latency is the time from sending it to the app having switched screens.
Figures are printed side by side; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import burst  # noqa: E402

from obtui.config.model import RuleConfig  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class Run(burst.ObtuiRun):
    """bench/burst.py's engine run, also noting when the N-th outcome arrived."""

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.finished_at: float | None = None
        self.on_finish: Callable[[], object] | None = None

    def _on_event(self, ev: dict) -> None:  # type: ignore[type-arg]
        super()._on_event(ev)
        if self.finished_at is None and self.done + self.failed >= self.target:
            self.finished_at = time.monotonic()
            if self.on_finish is not None:
                self.on_finish()

    def ready(self) -> bool:
        e = self.engine
        return e.state == "running" and bool(e.watchers) and all(w.alive for w in e.watchers.values())


def move_all(src: Path, bucket: Path) -> None:
    for e in os.scandir(src):
        os.rename(e.path, bucket / e.name)


def stage(root: Path, label: str, n: int, rule: RuleConfig) -> tuple[Path, Path, Run]:
    src, bucket, state = root / f"{label}-src", root / f"{label}-bucket", root / f"{label}-state"
    burst.make_files(src, n)
    bucket.mkdir()
    run = Run(bucket, state, rule)
    run.target = n
    return src, bucket, run


def figures(run: Run, n: int, t0: float) -> dict[str, float]:
    end = run.finished_at or time.monotonic()
    elapsed = end - t0
    return {"files/s": n / elapsed, "seconds": elapsed, "lost": n - run.done - run.failed}


def headless(root: Path, n: int, rule: RuleConfig, label: str) -> dict[str, float]:
    src, bucket, run = stage(root, label, n, rule)
    with run:
        t0 = time.monotonic()
        move_all(src, bucket)
        run.wait_done(n, timeout=600)
        out = figures(run, n, t0)
    return out


def with_tui(root: Path, n: int, rule: RuleConfig, label: str, key_every: float) -> dict[str, float]:
    return asyncio.run(_with_tui(root, n, rule, label, key_every))


async def _with_tui(root: Path, n: int, rule: RuleConfig, label: str, key_every: float) -> dict[str, float]:
    from textual import events

    from obtui.tui.app import make_app
    from obtui.tui.launch import _LazyStore
    from obtui.tui.screens.dashboard import DashboardScreen
    from obtui.tui.screens.help import HelpScreen

    src, bucket, run = stage(root, label, n, rule)
    store = _LazyStore(run.engine.state_dir)
    app = make_app(
        run.host, store, run.engine.config, config_path=None, themes_dirs=[ROOT / "themes"], cli_buckets=[]
    )
    latencies: list[float] = []
    polls = 0
    original_poll = DashboardScreen.poll

    def counting_poll(self: DashboardScreen) -> None:
        nonlocal polls
        polls += 1
        original_poll(self)

    DashboardScreen.poll = counting_poll  # type: ignore[method-assign]
    try:
        async with app.run_test(size=(100, 30)) as pilot:  # the app starts the engine on mount
            driver = app._driver
            assert driver is not None
            while not run.ready():
                await asyncio.sleep(0.01)
            finished = asyncio.Event()
            loop = asyncio.get_running_loop()
            run.on_finish = lambda: loop.call_soon_threadsafe(finished.set)  # no polling in the UI loop
            t0, polls_before = time.monotonic(), polls
            mover = threading.Thread(target=move_all, args=(src, bucket), name="bench-mover")
            mover.start()  # renames run beside the UI loop, as another program's would
            while not finished.is_set() and time.monotonic() - t0 < 600:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(finished.wait(), key_every if key_every > 0 else 600)
                if finished.is_set():
                    break
                for key, char, screen in (
                    ("question_mark", "?", HelpScreen),
                    ("escape", "\x1b", DashboardScreen),
                ):
                    # Sent as a terminal driver's input thread sends a key (not `pilot.press`, whose
                    # wait for an idle process lasts up to 1 s while the engine keeps it busy).
                    k0 = time.perf_counter()
                    driver.send_message(events.Key(key, char))
                    while not isinstance(app.screen, screen):
                        await asyncio.sleep(0.0005)
                    latencies.append((time.perf_counter() - k0) * 1000)
            out = figures(run, n, t0)
            out["polls/s"] = (polls - polls_before) / out["seconds"]
            mover.join()
            q0 = time.monotonic()
            await pilot.press("q")  # the real quit path: graceful stop, the app exits when done
            while app.is_running and time.monotonic() - q0 < 60:
                await asyncio.sleep(0.01)
            out["quit s"] = time.monotonic() - q0
    finally:
        DashboardScreen.poll = original_poll  # type: ignore[method-assign]
        run.host.request_stop()
        run.host.join(60)
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
    ap.add_argument(
        "--key-every", type=float, default=0.25, help="seconds between key pairs in (b); 0: no keys"
    )
    args = ap.parse_args()
    n = args.files
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {n:,} files moved in per run")
    with tempfile.TemporaryDirectory(prefix="obtui-tui-bench-") as tmp:
        root = Path(tmp)
        a_rates, b_rates = [], []
        for r in range(args.rounds):
            # Separate output folders per run, so no run finds the previous run's notes.
            rule_a = RuleConfig(name="notes", patterns=("*.txt",), output_dir=str(root / f"out-a{r}"))
            rule_b = RuleConfig(name="notes", patterns=("*.txt",), output_dir=str(root / f"out-b{r}"))
            a = headless(root, n, rule_a, f"a{r}")
            b = with_tui(root, n, rule_b, f"b{r}", args.key_every)
            a_rates.append(a["files/s"])
            b_rates.append(b["files/s"])
            print(f"round {r + 1}")
            print(f"  (a) headless engine      : {burst.fmt(a)}")
            shown = ("files/s", "seconds", "lost", "polls/s", "quit s")
            print(f"  (b) engine + TUI         : {burst.fmt({k: b[k] for k in shown})}")
            print(f"      ratio (b)/(a) files/s: {b['files/s'] / a['files/s']:.2f}x")
            print(
                f"      keys during the burst: {int(b['keys'])} (? then escape), "
                f"p50 {b['key p50 ms']:.1f} ms, p95 {b['key p95 ms']:.1f} ms, max {b['key max ms']:.1f} ms"
            )
        if args.rounds > 1:
            ma, mb = statistics.median(a_rates), statistics.median(b_rates)
            print(f"median files/s: headless {ma:,.1f}, with TUI {mb:,.1f}, ratio {mb / ma:.2f}x")


if __name__ == "__main__":
    main()
