"""`obtui --headless --once` on a terminal draws a progress bar for the catch-up (through a real
pseudo-terminal, on the real binary); with stderr not a terminal there is none."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import termios
from pathlib import Path

from obtui.api.snapshot import EngineSnapshot, Metrics, QueueStatus, ScanProgress
from obtui.cli.progress import ProgressBar
from tests.helpers import obtui


def _bucket(tmp_path: Path, n: int) -> Path:
    bucket = tmp_path / "in"
    bucket.mkdir()
    for i in range(n):
        (bucket / f"f{i:03d}.txt").write_text(f"file {i} TODO\n")
    return bucket


def test_once_on_a_terminal_shows_a_progress_bar(tmp_path: Path) -> None:
    bucket = _bucket(tmp_path, 150)
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = {
        **os.environ,
        "OBTUI_CONFIG": str(tmp_path / "none.toml"),
        "TERM": "xterm",
        "PYTHONIOENCODING": "utf-8",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "obtui",
            "--headless",
            "--once",
            "--state-dir",
            str(tmp_path / "s"),
            str(bucket),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    out = b""
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
        code = proc.wait(60)
    text = out.decode("utf-8", "replace")
    assert code == 0, text
    frames = [f for f in text.replace("\r\n", "\n").split("\r\x1b[2K") if f.startswith("catching up")]
    assert frames, text
    last = frames[-1].split("\n")[0]
    assert "150/150 files 100%" in last and "█" * 10 in last, last
    assert all(len(f.split("\n")[0]) < 100 for f in frames)  # never wraps the 100-column terminal
    assert "[obtui stopped] processed 150" in text.split(last, 1)[1]


def test_once_without_a_terminal_prints_no_bar(tmp_path: Path) -> None:
    bucket = _bucket(tmp_path, 20)
    r = obtui("--headless", "--once", "--state-dir", str(tmp_path / "s"), str(bucket))
    assert r.returncode == 0, r.stderr
    assert "catching up" not in r.stderr and "\r" not in r.stderr and "\x1b" not in r.stderr
    assert "[obtui stopped] processed 20" in r.stderr


class _Term:
    encoding = "utf-8"


def test_bar_counts_scanning_and_draining() -> None:
    bar = ProgressBar(_Term())  # type: ignore[arg-type]
    scanning = EngineSnapshot(
        metrics=Metrics(successful=30, failed=2),
        queue=QueueStatus(pending=60, processing=4, settling=0),
        scans=(ScanProgress("/in", scanned=500, queued=96),),
    )
    line = bar.render(scanning, 140)
    assert line.startswith("catching up [") and " 32/96 files 33%" in line
    assert "2 failed" in line and "scanning (500 seen)" in line and "left" not in line
    done = EngineSnapshot(metrics=Metrics(successful=96))
    line = bar.render(done, 100)
    assert "96/96 files 100%" in line and "░" not in line
    assert len(bar.render(scanning, 40)) < 40
