"""Cluster mode throughput: the same moved-in burst through 1, 2 and 3 `obtui --headless` hosts
sharing one bucket, next to two bare scripts with no engine and no work, with the same number of
consumer processes, in one run on one redis-server (AOF, appendfsync always):

- per file: one round trip per call and file (enqueue, XREADGROUP COUNT 2, BEGIN, FINISH), the
  protocol as the cluster issue measured it;
- batched: the calls a host makes now (enqueue of 64 files in one script, XREADGROUP COUNT 32,
  the BEGINs and the fenced FINISHes of what it read in one script each).

    .venv/bin/python bench/cluster.py [--files 2000] [--hosts 1,2,3] [--action note|command]
                                      [--note-processes N]

`--note-processes` sets `[runner] note_processes` on every host (default: obtui's default). The
hosts of this bench share one machine's cores, where real hosts each have their own.

Prints files/s per run and the ratio of each obtui run to both bare scripts with as many
consumers. Needs `redis-server` (Debian: apt-get install redis-server).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.cluster.redis_server import RedisServer, redis_server_binary  # noqa: E402

BARE = """
import asyncio, sys, time
from obtui.cluster.protocol import Coordinator, connect
url, name, n, batched = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "batched"
async def main():
    r = connect(url)
    c = Coordinator(r, name, lease_ms=30000, max_deliveries=5)
    await c.ensure_group("bench")
    while int(await r.hget("obtui:stats", "ok") or 0) < n:
        got = await c.take(["bench"], 32 if batched else 2, 100)
        if batched and got:
            go = [d for d, v in zip(got, await c.begin_many(got)) if v == "run"]
            await c.finish_many([(d, "ok", {"rule": "bare"}) for d in go])
            continue
        for d in got:
            if await c.begin(d) == "run":
                await c.finish(d, "ok", {"rule": "bare"})
    await r.aclose()
asyncio.run(main())
"""


async def _bare_enqueue(url: str, n: int, batched: bool) -> None:
    from obtui.cluster.protocol import Coordinator, Version, connect

    r = connect(url)
    c = Coordinator(r, "producer", lease_ms=30000, max_deliveries=5)
    await c.ensure_group("bench")
    if batched:
        for at in range(0, n, 64):
            vs = [Version(f"f{i:06d}.txt", f"{i:064x}", 20) for i in range(at, min(n, at + 64))]
            await c.enqueue_many("bench", vs)
    else:
        for i in range(n):
            await c.enqueue("bench", f"f{i:06d}.txt", f"{i:064x}", 20)
    await r.aclose()


def bare(server: RedisServer, consumers: int, n: int, mode: str) -> float:
    """The protocol alone: one producer enqueues n files while `consumers` processes drain them
    (`mode`: "per-file" or "batched" calls)."""
    server.client().flushall()
    procs = [
        subprocess.Popen([sys.executable, "-c", BARE, server.url, f"c{i}", str(n), mode], cwd=ROOT)
        for i in range(consumers)
    ]
    t0 = time.perf_counter()
    asyncio.run(_bare_enqueue(server.url, n, mode == "batched"))
    for p in procs:
        p.wait(600)
    return n / (time.perf_counter() - t0)


def hosts_run(
    server: RedisServer, tmp: Path, hosts: int, n: int, action: str, note_processes: int | None = None
) -> float:
    """n files moved into a bucket shared by `hosts` obtui processes; files/s until n outcomes."""
    r = server.client()
    r.flushall()
    run = tmp / f"hosts{hosts}"
    bucket, staging = run / "share", run / "staging"
    bucket.mkdir(parents=True)
    staging.mkdir()
    rule = (
        'action = "note"\ngrep = ""'
        if action == "note"
        else 'action = "command"\ncommand = ["/bin/true", "{path}"]'
    )
    runner_extra = f"note_processes = {note_processes}" if note_processes is not None else ""
    procs = []
    for h in range(hosts):
        cfg = run / f"h{h}.toml"
        cfg.write_text(
            textwrap.dedent(
                f"""\
                [cluster]
                redis = "{server.url}"
                host = "h{h}"
                [runner]
                concurrency = 4
                debounce_ms = 50
                {runner_extra}
                [[buckets]]
                path = "{bucket}"
                id = "bench"
                [[rules]]
                name = "bench"
                patterns = ["*.txt"]
                output_dir = "{run / f"out{h}"}"
                """
            )
            + rule
            + "\n"
        )
        env = {**os.environ, "OBTUI_CONFIG": os.devnull + ".missing"}
        cmd = [
            sys.executable,
            "-m",
            "obtui",
            "--headless",
            "--config",
            str(cfg),
            "--state-dir",
            str(run / f"s{h}"),
        ]
        procs.append(
            subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        )
    try:
        deadline = time.monotonic() + 60
        while len(r.keys("obtui:alive:*")) < hosts:
            if time.monotonic() > deadline:
                raise SystemExit("hosts did not join within 60 s")
            time.sleep(0.1)
        for i in range(n):
            (staging / f"f{i:06d}.txt").write_text(f"file {i}\n")
        t0 = time.perf_counter()
        for i in range(n):
            os.rename(staging / f"f{i:06d}.txt", bucket / f"f{i:06d}.txt")
        while int(r.hget("obtui:stats", "ok") or 0) + int(r.hget("obtui:stats", "error") or 0) < n:
            if time.perf_counter() - t0 > 600:
                raise SystemExit("burst not done within 600 s")
            time.sleep(0.02)
        return n / (time.perf_counter() - t0)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--hosts", default="1,2,3")
    ap.add_argument("--action", choices=("note", "command"), default="note")
    ap.add_argument("--note-processes", type=int, default=None, help="[runner] note_processes of each host")
    args = ap.parse_args()
    binary = redis_server_binary()
    if binary is None:
        print("bench/cluster.py needs redis-server (apt-get install redis-server)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="obtui-cluster-bench-"))
    server = RedisServer(tmp / "redis", binary)
    server.start()
    try:
        np = "default" if args.note_processes is None else args.note_processes
        print(
            f"{args.files} files, {args.action} action, note_processes {np}, redis-server appendfsync always\n"
        )
        print(f"{'run':<36}{'files/s':>10}{'/ per file':>12}{'/ batched':>12}")
        for h in (int(x) for x in args.hosts.split(",")):
            b = bare(server, h, args.files, "per-file")
            bb = bare(server, h, args.files, "batched")
            o = hosts_run(server, tmp, h, args.files, args.action, args.note_processes)
            print(f"{f'bare protocol per file, {h} consumer(s)':<36}{b:>10,.0f}")
            print(f"{f'bare protocol batched, {h} consumer(s)':<36}{bb:>10,.0f}")
            print(f"{f'obtui, {h} host(s)':<36}{o:>10,.0f}{o / b:>11.2f}x{o / bb:>11.2f}x", flush=True)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
