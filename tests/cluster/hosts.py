"""Several obtui hosts on one machine: each a real `obtui --headless` process with its own config
and state dir, all on one shared bucket folder and one redis-server. Stopped by PID."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

from tests.helpers import ROOT

JOB_SCRIPT = """\
import os, sys, time
path, rel = sys.argv[1], sys.argv[2]
line = f"{os.environ['OBTUI_HOST']} {rel} {os.environ['OBTUI_ATTEMPT']} {os.environ['OBTUI_JOB_KEY']}\\n"
with open(os.environ["RUNS_LOG"], "a") as f:
    f.write(line)
if "poison" in rel and os.path.exists(os.environ["POISON_MARKER"]):
    os.kill(os.getppid(), 9)  # the file that kills the host that takes it
    time.sleep(30)
time.sleep(float(os.environ.get("JOB_SECONDS", "0")))
"""


class Cluster:
    """The shared bucket, the job script's run log and the hosts."""

    def __init__(self, tmp: Path, redis_url: str, *, lease: str = "2s", max_deliveries: int = 3) -> None:
        self.tmp = tmp
        self.url = redis_url
        self.bucket = tmp / "share" / "incoming"
        self.bucket.mkdir(parents=True)
        self.runs_log = tmp / "runs.log"
        self.runs_log.touch()
        self.poison_marker = tmp / "poison-on"
        self.poison_marker.touch()
        self.script = tmp / "job.py"
        self.script.write_text(JOB_SCRIPT)
        self.lease = lease
        self.max_deliveries = max_deliveries
        self.hosts: dict[str, subprocess.Popen[bytes]] = {}

    def config(self, name: str, redis_url: str | None = None, rule: str | None = None) -> Path:
        """The host's config: the job script as a command rule, or `rule` (TOML lines after
        `name`) instead."""
        cfg = self.tmp / f"{name}.toml"
        rule = rule or textwrap.dedent(
            f"""\
            patterns = ["*.txt", "*.bin"]
            action = "command"
            command = ["{sys.executable}", "{self.script}", "{{path}}", "{{rel}}"]
            timeout = "60s"
            retries = 0
            """
        )
        cfg.write_text(
            textwrap.dedent(
                f"""\
                [cluster]
                redis = "{redis_url or self.url}"
                host = "{name}"
                lease = "{self.lease}"
                max_deliveries = {self.max_deliveries}

                [runner]
                concurrency = 2
                debounce_ms = 100
                max_delay_ms = 2000
                shutdown_grace_seconds = 2
                status_interval_seconds = 0.5

                [[buckets]]
                path = "{self.bucket}"
                id = "incoming"

                [[rules]]
                name = "job"
                """
            )
            + rule
        )
        return cfg

    def start(
        self,
        name: str,
        *,
        job_seconds: float = 0.0,
        redis_url: str | None = None,
        rule: str | None = None,
    ) -> subprocess.Popen[bytes]:
        state = self.tmp / f"state-{name}"
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        env = {
            **os.environ,
            "RUNS_LOG": str(self.runs_log),
            "POISON_MARKER": str(self.poison_marker),
            "JOB_SECONDS": str(job_seconds),
            "OBTUI_CONFIG": os.devnull + ".missing",
            "PYTHONPATH": str(ROOT),
        }
        env.pop("OBTUI_REDIS_URL", None)
        cmd = [
            sys.executable,
            "-m",
            "obtui",
            "--headless",
            "-v",
            "--config",
            str(self.config(name, redis_url, rule)),
        ]
        proc = subprocess.Popen(
            cmd + ["--state-dir", str(state)], stdout=log, stderr=subprocess.STDOUT, env=env
        )
        log.close()
        self.hosts[name] = proc
        return proc

    def signal(self, name: str, sig: int) -> None:
        self.hosts[name].send_signal(sig)

    def kill9(self, name: str) -> None:
        proc = self.hosts[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.hosts.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
        for proc in self.hosts.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def drop(self, n: int, prefix: str = "f", suffix: str = ".txt") -> list[str]:
        """Write `n` files outside the bucket, then rename them in (complete at once)."""
        staging = self.tmp / "staging"
        staging.mkdir(exist_ok=True)
        rels = []
        for i in range(n):
            name = f"{prefix}{i:04d}{suffix}"
            (staging / name).write_text(f"{prefix} {i}\n")
            os.rename(staging / name, self.bucket / name)
            rels.append(name)
        return rels

    def alive(self, r) -> set[str]:  # type: ignore[no-untyped-def]
        return {k.split(":", 2)[2] for k in r.keys("obtui:alive:*")}

    def log_of(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    # -- what happened ---------------------------------------------------------------------------

    def runs(self) -> list[tuple[str, str, int]]:
        """(host, rel, attempt) of every execution of the job script."""
        out = []
        for line in self.runs_log.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3:
                out.append((parts[0], parts[1], int(parts[2])))
        return out

    def redis_outcomes(self, r) -> dict[str, dict]:  # type: ignore[no-untyped-def]
        """rel -> outcome in Redis (ok, error, dead; not queued)."""
        out = {}
        for field, raw in r.hgetall("obtui:files:{incoming}").items():
            doc = json.loads(raw)
            if doc["state"] != "queued":
                out[field.split("\0")[0]] = doc
        return out

    def local_records(self) -> Counter[str]:
        """rel -> how many success/failure records all the hosts' SQLite journals hold."""
        counts: Counter[str] = Counter()
        for name in self.hosts:
            db = self.tmp / f"state-{name}" / "obtui.db"
            if not db.exists():
                continue
            con = sqlite3.connect(db, timeout=10)
            try:
                rows = con.execute("select file_path from successes").fetchall()
                rows += con.execute(
                    "select file_path from errors where severity in ('ERROR', 'CRITICAL')"
                ).fetchall()
            finally:
                con.close()
            prefix = str(self.bucket) + "/"
            counts.update(p.removeprefix(prefix) for (p,) in rows if p)
        return counts
