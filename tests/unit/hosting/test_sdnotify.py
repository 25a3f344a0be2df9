"""systemd's notify protocol, seen from a real Unix datagram socket bound as NOTIFY_SOCKET by the
test, with the real binary: READY=1, STATUS=, WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest

from obtui.hosting.sdnotify import Notifier
from tests.helpers import headless_stderr, start_headless, success_count, wait_for


def _messages(sock: socket.socket, until: float) -> list[tuple[float, str]]:
    """Every datagram received before `until` (monotonic), with its arrival time."""
    out = []
    while (left := until - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data = sock.recv(4096)
        except TimeoutError:
            break
        out.append((time.monotonic(), data.decode()))
    return out


def _first(sock: socket.socket, field: str, timeout: float) -> tuple[float, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for at, msg in _messages(sock, min(deadline, time.monotonic() + 0.5)):
            if field in msg.split("\n"):
                return at, msg
    raise AssertionError(f"no {field} within {timeout}s")


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_ready_status_watchdog_and_stopping(tmp_path: Path, abstract: bool) -> None:
    bucket, state = tmp_path / "in", tmp_path / "state"
    bucket.mkdir()
    for i in range(5):
        (bucket / f"early{i}.txt").write_text(f"dropped while down {i}\n")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = f"@obtui-test-{os.getpid()}-{time.monotonic_ns()}"
        sock.bind("\0" + name[1:])
    else:
        name = str(tmp_path / "notify.sock")
        sock.bind(name)
    env = {"NOTIFY_SOCKET": name, "WATCHDOG_USEC": "2000000"}
    proc = start_headless(state, bucket, env=env)
    try:
        _, ready = _first(sock, "READY=1", timeout=30)
        fields = dict(line.split("=", 1) for line in ready.split("\n"))
        assert fields["MAINPID"] == str(proc.pid)
        assert fields["STATUS"].startswith("[obtui running]"), fields
        # Watched by then: a file dropped now is processed without a rescan.
        (bucket / "late.txt").write_text("dropped while up\n")
        wait_for(lambda: success_count(state) == 6, timeout=30, what="all six processed")
        started = time.monotonic()
        pings = []
        while len(pings) < 2 and time.monotonic() - started < 6:
            pings += [m for m in _messages(sock, time.monotonic() + 0.5) if m[1] == "WATCHDOG=1"]
        assert len(pings) >= 2, "at least two WATCHDOG=1 in 6 s (every 1 s with WATCHDOG_USEC=2 s)"
        assert pings[1][0] - pings[0][0] < 2.0  # within WATCHDOG_USEC, or systemd would kill it
        proc.send_signal(signal.SIGTERM)
        _, stopping = _first(sock, "STOPPING=1", timeout=15)
        assert "STATUS=stopping (SIGTERM)" in stopping
        assert proc.wait(30) == 0, headless_stderr(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        sock.close()


def test_status_follows_the_work(tmp_path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "n.sock"))
    bucket, state = tmp_path / "in", tmp_path / "state"
    bucket.mkdir()
    proc = start_headless(state, bucket, env={"NOTIFY_SOCKET": str(tmp_path / "n.sock")})
    try:
        _first(sock, "READY=1", timeout=30)
        (bucket / "a.txt").write_text("a\n")
        deadline = time.monotonic() + 20
        seen = []
        while time.monotonic() < deadline and not any("processed 1 " in s for s in seen):
            seen += [m for _, m in _messages(sock, time.monotonic() + 0.5) if m.startswith("STATUS=")]
        assert any(s.startswith("STATUS=[obtui running] processed 1 ") for s in seen), seen
        assert not any("WATCHDOG=1" in s for s in seen)  # no WATCHDOG_USEC, no pings
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        sock.close()


def test_from_env_reads_and_removes_the_variables() -> None:
    env = {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "3000000", "WATCHDOG_PID": str(os.getpid()), "KEEP": "1"}
    n = Notifier.from_env(env)
    assert n is not None and n.address == "\0x" and n.watchdog_seconds == 1.5
    assert env == {"KEEP": "1"}
    n.close()
    other = Notifier.from_env({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "10", "WATCHDOG_PID": "1"})
    assert other is not None and other.watchdog_seconds is None  # the watchdog is another process's
    other.close()
    assert Notifier.from_env({}) is None and Notifier.from_env({"NOTIFY_SOCKET": "relative"}) is None
