"""The real `obtui` binary in a real terminal (tmux): start on two buckets, watch the dashboard
count dropped files, open the errors screen, quit with `q` and check the exit code.

Every wait polls `tmux capture-pane` (or the exit-code file) against a deadline; no fixed sleeps.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

COLS, ROWS = 100, 30


class Tmux:
    """One private tmux server (its own socket via `-L`), holding one session."""

    def __init__(self, name: str) -> None:
        self.socket = name
        self.target = "obtui"
        self.socket_path: str | None = None

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10, check=check
        )

    def start(self, command: str) -> None:
        self.run(
            "-f", os.devnull, "new-session", "-d", "-s", self.target, "-x", str(COLS), "-y", str(ROWS),
            command,
        )  # fmt: skip
        self.socket_path = self.run("display-message", "-p", "#{socket_path}").stdout.strip() or None
        # Keep the pane after the command ends, so a crash stays readable in the failure message.
        self.run("set-option", "-t", self.target, "remain-on-exit", "on", check=False)

    def screen(self) -> str:
        r = self.run("capture-pane", "-p", "-t", self.target, check=False)
        return r.stdout if r.returncode == 0 else ""

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.target, *keys)

    def kill(self) -> None:
        self.run("kill-server", check=False)
        if self.socket_path:  # tmux leaves the socket file of a killed server behind
            with contextlib.suppress(OSError):
                os.unlink(self.socket_path)


def wait_screen(tmux: Tmux, cond: Callable[[str], bool], what: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux.screen()
        if cond(screen):
            return screen
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; the screen:\n{screen}")


def test_real_binary_in_tmux(tmp_path: Path) -> None:
    inc, upl, state = tmp_path / "incoming", tmp_path / "uploads", tmp_path / "state"
    inc.mkdir()
    upl.mkdir()
    exit_file = tmp_path / "exit.txt"
    obtui = " ".join(
        shlex.quote(a) for a in (sys.executable, "-m", "obtui", "--state-dir", str(state), str(inc), str(upl))
    )
    env = {
        "OBTUI_CONFIG": str(tmp_path / "no-such-config.toml"),  # none: the built-in defaults
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),  # this checkout's obtui
    }
    script = f"{obtui}; echo EXIT=$? > {shlex.quote(str(exit_file))}"
    command = " ".join(
        ["env", *(shlex.quote(f"{k}={v}") for k, v in env.items()), "sh", "-c", shlex.quote(script)]
    )
    tmux = Tmux(f"obtui-test-{uuid.uuid4().hex[:12]}")
    try:
        tmux.start(command)
        wait_screen(tmux, lambda s: "Metrics" in s and "Directories" in s, "the dashboard")
        wait_screen(
            tmux,
            lambda s: "Watching    2 dirs" in s and "running" in s and "Files       0 " in s,
            "the engine running, nothing processed",
        )

        (inc / "one.txt").write_text("# One\nTODO: first\n")
        (upl / "two.md").write_text("FIXME second\n")
        (upl / "empty.txt").write_bytes(b"")  # induces an error (FileContent)
        wait_screen(
            tmux,
            lambda s: "Files       3 " in s and "Successful  2 " in s and "Failed      1 " in s,
            "3 files processed: 2 successful, 1 failed",
        )
        assert (inc / "one.obs.md").exists() and (upl / "two.obs.md").exists()

        tmux.keys("e")
        # Every check on the screen is part of a wait: a capture may catch a frame half drawn.
        wait_screen(
            tmux,
            lambda s: all(t in s for t in ("filter: message", "ERR-", "FileContent", "1 record")),
            "the errors screen listing the record",
        )
        tmux.keys("Enter")  # the table has the focus, its cursor on the only record
        wait_screen(
            tmux,
            # (not the file name: a long tmp path wraps it across two lines)
            lambda s: all(t in s for t in ("Suggestion", "The file is empty", "EmptyFileError")),
            "the error's detail with its suggestion",
        )
        tmux.keys("Escape")
        wait_screen(tmux, lambda s: "filter: message" in s, "the errors screen again")
        tmux.keys("Escape")
        wait_screen(
            tmux,
            lambda s: "Metrics" in s and "Directories" in s and "filter: message" not in s,
            "the dashboard again",
        )

        tmux.keys("q")
        deadline = time.monotonic() + 30
        while not exit_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert exit_file.exists(), f"obtui did not exit after q; the screen:\n{tmux.screen()}"
        assert exit_file.read_text().strip() == "EXIT=0", tmux.screen()
    finally:
        tmux.kill()
    assert not (state / "runner.lock").exists() or _lock_free(state)
    # The engine ran in a process of its own, and that process is gone too.
    from obtui.tracking.runtime_files import read_status

    engine_pid = (read_status(state) or {})["snapshot"]["pid"]
    assert engine_pid and not Path(f"/proc/{engine_pid}").exists(), "the engine process outlived obtui"


def _lock_free(state: Path) -> bool:
    """The runner lock is released (the file may stay; nobody holds it)."""
    from obtui.tracking.runtime_files import runner_alive

    return not runner_alive(state)


def _pids_with(arg: str) -> list[int]:
    """Processes whose command line has `arg` as one of its arguments."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if arg.encode() in (entry / "cmdline").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
    return found


def test_second_q_forces_the_ui_and_engine_to_end_at_once(tmp_path: Path) -> None:
    """Issue 13.3: with a command running, `q` then `q` left a blank screen and both processes
    alive for the whole grace period (30 s here). They must end within a second or two."""
    inc, state = tmp_path / "incoming", tmp_path / "state"
    inc.mkdir()
    exit_file = tmp_path / "exit.txt"
    config = tmp_path / "config.toml"
    sleeper = [sys.executable, "-c", "import time; time.sleep(30)", "{path}"]
    config.write_text(
        "[runner]\ndebounce_ms = 100\nshutdown_grace_seconds = 30\n\n"
        f'[[buckets]]\npath = "{inc}"\n\n'
        '[[rules]]\nname = "slow"\npatterns = ["*.job"]\naction = "command"\n'
        f"command = [{', '.join(f'{a!r}'.replace(chr(39), chr(34)) for a in sleeper)}]\n",
        encoding="utf-8",
    )
    obtui = " ".join(
        shlex.quote(a)
        for a in (sys.executable, "-m", "obtui", "--state-dir", str(state), "--config", str(config))
    )
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    script = f"{obtui}; echo EXIT=$? > {shlex.quote(str(exit_file))}"
    command = " ".join(
        ["env", *(shlex.quote(f"{k}={v}") for k, v in env.items()), "sh", "-c", shlex.quote(script)]
    )
    job = inc / "slow.job"
    tmux = Tmux(f"obtui-test-{uuid.uuid4().hex[:12]}")
    try:
        tmux.start(command)
        wait_screen(tmux, lambda s: "Watching    1 dir" in s and "running" in s, "the engine running")
        job.write_text("work\n")
        wait_screen(tmux, lambda s: "processing 1" in s, "the command running")
        assert _pids_with(str(job)), "the command is not running"
        from obtui.tracking.runtime_files import read_status

        engine_pid = wait_for_value(lambda: ((read_status(state) or {}).get("snapshot") or {}).get("pid"))
        tmux.keys("q")
        wait_screen(tmux, lambda s: "Press q again to force" in s, "the graceful stop under way")
        started = time.monotonic()
        tmux.keys("q")
        deadline = started + 10
        while not exit_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        took = time.monotonic() - started
        assert exit_file.exists(), f"obtui did not exit after q q; the screen:\n{tmux.screen()}"
        assert took < 3.0, f"the UI took {took:.1f} s to end after the second q"
        assert exit_file.read_text().strip() == "EXIT=0", tmux.screen()
        assert not Path(f"/proc/{engine_pid}").exists(), "the engine process outlived the forced quit"
        assert _pids_with(str(job)) == [], "the command outlived the forced quit"
    finally:
        tmux.kill()
        for pid in _pids_with(str(job)):  # never leave the 30 s sleeper behind a failed test
            with contextlib.suppress(OSError):
                os.kill(pid, 9)
    assert _lock_free(state)
    assert job.exists(), "the cut-off file stays for the next run"


def wait_for_value(get: Callable[[], object], timeout: float = 10.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = get()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for a value")
