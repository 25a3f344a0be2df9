"""Prometheus /metrics from the real binary over real HTTP: named as Prometheus expects, agreeing
with `--report`, and prometheus_client not even imported unless asked for."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.helpers import headless_stderr, obtui, runner_started, start_headless, toml_str, wait_for

NAMES = (
    "obtui_files_total",
    "obtui_processing_seconds_bucket",
    "obtui_processing_seconds_count",
    "obtui_queue_depth",
    "obtui_events_total",
    "obtui_watcher_overflows_total",
    "obtui_up",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        assert r.status == 200
        return r.read().decode()


def _samples(text: str, name: str) -> list[tuple[str, float]]:
    """(labels, value) of every sample of `name` in the exposition text."""
    out = []
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            head, value = line.rsplit(" ", 1)
            out.append((head[len(name) :], float(value)))
    return out


def _successes(port: int) -> float:
    try:
        text = _scrape(port)
    except OSError:
        return -1
    return sum(v for labels, v in _samples(text, "obtui_files_total") if 'outcome="success"' in labels)


def test_metrics_endpoint_counts_files_and_agrees_with_report(tmp_path: Path) -> None:
    bucket, state = tmp_path / "in", tmp_path / "state"
    bucket.mkdir()
    port = _free_port()
    cfg = tmp_path / "obtui.toml"
    cfg.write_text(
        f'[metrics]\nlisten = "127.0.0.1:{port}"\n\n[[buckets]]\npath = {toml_str(bucket)}\n\n'
        '[[rules]]\nname = "txt"\npatterns = ["*.txt"]\n\n'
        '[[rules]]\nname = "broken"\npatterns = ["*.bad"]\naction = "command"\n'
        'command = ["false"]\nretries = 0\n'
    )
    proc = start_headless(state, config=cfg)
    try:
        wait_for(lambda: runner_started(state, proc), timeout=30, what="runner up")
        wait_for(lambda: _successes(port) == 0, timeout=30, what="/metrics served")
        for i in range(10):
            (bucket / f"f{i}.txt").write_text(f"file {i} TODO\n")
        wait_for(lambda: _successes(port) == 10, timeout=60, what="10 successes on /metrics")
        (bucket / "x.bad").write_text("fails\n")  # seen by the watcher (the first ten maybe by the scan)
        wait_for(
            lambda: sum(v for lb, v in _samples(_scrape(port), "obtui_files_total") if "failure" in lb) == 1,
            timeout=30,
            what="the failure counted",
        )
        # The gauges come from the engine's snapshot, published 4 times a second.
        wait_for(lambda: _samples(_scrape(port), "obtui_events_total")[0][1] >= 1, timeout=10, what="events")
        text = _scrape(port)
        report = json.loads(obtui("--report", "--json", "--state-dir", str(state)).stdout)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0, headless_stderr(proc)  # a graceful stop, failed files or not
    for name in NAMES:
        assert _samples(text, name), f"{name} missing from:\n{text}"
    ok = _samples(text, "obtui_files_total")
    assert (f'{{bucket="{bucket}",outcome="success",rule="txt"}}', 10.0) in ok, ok
    failures = [(lb, v) for lb, v in ok if 'outcome="failure"' in lb]
    assert failures == [(f'{{bucket="{bucket}",outcome="failure",rule="broken"}}', 1.0)], failures
    assert report["totals"]["successful"] == 10 and report["totals"]["failed"] == 1
    assert _samples(text, "obtui_processing_seconds_count")[0][1] == 10
    assert _samples(text, "obtui_up") == [("", 1.0)]


def test_a_restart_counts_from_the_store_history(tmp_path: Path) -> None:
    bucket, state = tmp_path / "in", tmp_path / "state"
    bucket.mkdir()
    for i in range(4):
        (bucket / f"f{i}.txt").write_text(f"file {i}\n")
    assert obtui("--once", "--state-dir", str(state), str(bucket)).returncode == 0
    port = _free_port()
    args = ["--headless", "--state-dir", str(state), "--metrics-listen", f"127.0.0.1:{port}", str(bucket)]
    proc = subprocess.Popen([sys.executable, "-m", "obtui", *args], stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _successes(port) == 4, timeout=30, what="history counted")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_prometheus_client_is_not_imported_unless_configured(tmp_path: Path) -> None:
    bucket, state = tmp_path / "in", tmp_path / "state"
    bucket.mkdir()
    (bucket / "a.txt").write_text("a\n")
    code = (
        "import sys\n"
        "from obtui.cli.main import main\n"
        f"rc = main(['--once', '--state-dir', {str(state)!r}, {str(bucket)!r}])\n"
        "print(rc, 'prometheus_client' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["0", "False"], out.stderr


def test_bad_listen_address_is_a_config_error_with_its_line(tmp_path: Path) -> None:
    cfg = tmp_path / "obtui.toml"
    cfg.write_text('[ui]\ntheme = "obtui-dark"\n\n[metrics]\nlisten = "localhost"\n')
    r = obtui("--check-config", "--config", str(cfg))
    assert r.returncode == 2 and f"{cfg}:5" in r.stderr and "HOST:PORT" in r.stderr, r.stderr
    r = obtui("--headless", "--metrics-listen", "127.0.0.1:99999", str(tmp_path))
    assert r.returncode == 2 and "--metrics-listen" in r.stderr and "65535" in r.stderr, r.stderr


def test_port_in_use_exits_2_naming_the_address(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = obtui(
            "--headless",
            "--state-dir",
            str(tmp_path / "s"),
            "--metrics-listen",
            f"127.0.0.1:{port}",
            str(tmp_path),
        )
    assert r.returncode == 2, r.stderr
    assert f"cannot serve metrics on 127.0.0.1:{port}" in r.stderr and "Traceback" not in r.stderr
