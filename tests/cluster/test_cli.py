"""The cluster views of the CLI, against a real redis-server: no local engine involved."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from obtui.cluster.protocol import Coordinator, connect
from tests.helpers import obtui

SHA = "c" * 64


def _populate(url: str) -> None:
    async def main() -> None:
        r = connect(url)
        a = Coordinator(r, "alpha", lease_ms=1000, max_deliveries=1)
        await a.ensure_group("inbox")
        for i in range(3):
            await a.enqueue("inbox", f"f{i}.txt", SHA, 10)
        ds = await a.take(["inbox"], 10, 100)
        await a.begin(ds[0])
        await a.finish(ds[0], "ok", {"dur_ms": 12.0, "bytes": 10, "rule": "notes"})
        await a.begin(ds[1])
        await a.finish(ds[1], "error", {"category": "Processing", "message": "exit code 3", "rule": "cmd"})
        await a.begin(ds[2])
        await a.heartbeat({"in_flight": 1, "done": 2, "pid": 1}, 5000)
        # ds[2] is left running; a second host declares it dead after two deliveries.
        b = Coordinator(r, "beta", lease_ms=0, max_deliveries=1)
        await b.reclaim("inbox")
        await r.aclose()

    asyncio.run(main())


def test_status_report_errors_dlq_and_retry_from_redis_alone(redis_server, tmp_path):
    url = redis_server.url
    assert obtui("--status", "--cluster", url).returncode == 3  # nobody joined yet
    _populate(url)
    res = obtui("--status", "--cluster", url, "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [(h["name"], h["alive"], h["inFlight"], h["done"]) for h in doc["hosts"]] == [
        ("alpha", True, 1, 2)
    ]
    assert (doc["dead"], doc["pending"]) == (1, 0)

    res = obtui("--report", "--cluster", url, "--json")
    rep = json.loads(res.stdout)
    local = json.loads(obtui("--report", "--json", "--state-dir", str(tmp_path / "s")).stdout)
    assert set(rep) == set(local) and set(local["totals"]) | {"dead"} == set(rep["totals"])
    assert rep["totals"] | {} == {
        "processed": 2,
        "successful": 1,
        "failed": 1,
        "successRate": 50.0,
        "failureRate": 50.0,
        "errorRecords": 2,
        "dead": 1,
    }
    assert rep["directories"][0]["directory"] == "inbox"
    assert "every host" in obtui("--report", "--cluster", url).stdout

    errs = json.loads(obtui("--errors", "--cluster", url, "--json").stdout)
    assert sorted(e["state"] for e in errs) == ["dead", "error"]
    assert {e["filePath"] for e in errs} == {"inbox/f1.txt", "inbox/f2.txt"}

    env = {"OBTUI_REDIS_URL": url}  # the URL from the environment works the same
    [dead] = json.loads(obtui("--dlq", "--json", env=env).stdout)
    assert (dead["bucket"], dead["path"], dead["deliveries"], dead["lastHost"]) == (
        "inbox",
        "f2.txt",
        1,
        "alpha",
    )
    assert "--dlq-retry" in obtui("--dlq", env=env).stdout
    res = obtui("--dlq-retry", "inbox/0-0", env=env)
    assert res.returncode == 1 and "no dead-lettered file" in res.stderr
    res = obtui("--dlq-retry", "all", env=env)
    assert res.returncode == 0 and dead["key"] in res.stdout
    assert json.loads(obtui("--dlq", "--json", env=env).stdout) == []
    assert json.loads(obtui("--status", "--cluster", "--json", env=env).stdout)["lag"] == 1


def test_cluster_views_explain_missing_configuration_and_unreachable_redis(tmp_path):
    res = obtui("--dlq")
    assert res.returncode == 2 and "cluster mode is not configured" in res.stderr
    res = obtui("--status", "--cluster", "redis://:secret@127.0.0.1:9/0")
    assert res.returncode == 2 and "cannot reach" in res.stderr and "secret" not in res.stderr


def test_config_errors_name_the_line(tmp_path):
    cfg = tmp_path / "c.toml"
    (tmp_path / "a").mkdir()
    (tmp_path / "b" / "a").mkdir(parents=True)
    cfg.write_text(
        '[cluster]\nredis = "http://x"\nlease = "0s"\n\n'
        '[[buckets]]\npath = "a"\n\n[[buckets]]\npath = "b/a"\n'
    )
    res = obtui("--config", str(cfg), "--check-config")
    assert res.returncode == 2
    assert f"{cfg}:2: cluster.redis" in res.stderr
    assert f"{cfg}:3: cluster.lease" in res.stderr
    assert "bucket id 'a' is also used by" in res.stderr


def test_cluster_on_the_command_line_needs_a_url_and_distinct_bucket_ids(tmp_path):
    (tmp_path / "a" / "in").mkdir(parents=True)
    (tmp_path / "b" / "in").mkdir(parents=True)
    res = obtui("--cluster", "--check-config", str(tmp_path / "a" / "in"))
    assert res.returncode == 2 and "no Redis URL" in res.stderr
    res = obtui("--cluster", "ftp://x", "--check-config", str(tmp_path / "a" / "in"))
    assert res.returncode == 2 and "expected a Redis URL" in res.stderr
    res = obtui(
        "--cluster", "redis://h:1/0", "--check-config", str(tmp_path / "a" / "in"), str(tmp_path / "b" / "in")
    )
    assert res.returncode == 2 and "share the cluster bucket id 'in'" in res.stderr
    res = obtui("--headless", "--once", "--cluster", "redis://h:1/0", str(tmp_path / "a" / "in"))
    assert res.returncode == 2 and "--once does not apply to a cluster host" in res.stderr
    res = obtui("--check-config", str(tmp_path / "a" / "in"), env={"OBTUI_REDIS_URL": "redis://h:1/0"})
    assert res.returncode == 0 and "cluster id in" in res.stdout and "redis://h:1/0" in res.stdout


def test_single_host_mode_never_imports_redis(tmp_path):
    bucket = tmp_path / "in"
    bucket.mkdir()
    (bucket / "x.txt").write_text("TODO\n")
    code = (
        "import sys; from obtui.cli.main import main; "
        f"rc = main(['--headless', '--once', '--state-dir', {str(tmp_path / 's')!r}, {str(bucket)!r}]); "
        "print(rc, 'redis' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.stdout.split()[-2:] == ["0", "False"], res.stderr
