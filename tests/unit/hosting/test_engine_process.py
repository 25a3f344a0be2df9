"""The engine in its own process (`EngineProcess` + `engine_server`), as the dashboard runs it:
real child process, real socket, real folders, observers and SQLite. Every wait has a deadline."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from obtui.config.model import RuleConfig
from obtui.hosting.process import EngineProcess, EngineProcessError
from obtui.tracking.runtime_files import RunnerLockedError, acquire_runner_lock, read_status
from tests.helpers import engine_idle, engine_watching, make_config, success_count, wait_for


def gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for a reaper counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.fixture
def host(tmp_path: Path, bucket: Path) -> Iterator[EngineProcess]:
    h = EngineProcess(make_config([bucket], debounce_ms=100), tmp_path / "state")
    h.start()
    try:
        yield h
    finally:
        h.request_stop(force=True)
        if not h.join(20):
            h.kill()
            h.join(5)


def test_controls_reach_the_engine_process_and_it_stops_cleanly(
    host: EngineProcess, bucket: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    wait_for(lambda: engine_watching(host), what="the engine process watching its bucket")
    snap = host.snapshot()
    assert snap.pid == host.pid != os.getpid()  # the snapshot comes from the child

    (bucket / "one.txt").write_text("TODO one\n")
    wait_for(lambda: host.snapshot().metrics.successful == 1, what="one.txt processed")
    assert success_count(state) == 1 and (bucket / "one.obs.md").exists()

    host.pause()
    wait_for(lambda: host.snapshot().state == "paused", what="paused")
    (bucket / "two.txt").write_text("two\n")
    wait_for(lambda: host.snapshot().queue.pending == 1, what="two.txt waiting in the queue")
    assert success_count(state) == 1
    host.resume()
    wait_for(lambda: host.snapshot().metrics.successful == 2, what="two.txt processed after resume")

    rescans = host.snapshot().metrics.rescans
    host.rescan()
    wait_for(lambda: host.snapshot().metrics.rescans > rescans, what="a manual rescan")

    # A new rule goes over the socket and comes back as what changed; it is in force at once.
    config = host.config
    logs = RuleConfig(name="logs", patterns=("*.log",), action="note")
    diff = host.apply_config(dataclasses.replace(config, rules=(*config.rules, logs)))
    assert diff.rules_added == ("logs",) and not diff.rules_removed
    assert host.config.rules[-1] == logs  # the host knows what the engine runs now
    wait_for(lambda: "logs" in host.snapshot().rules, what="the snapshot listing the new rule")
    (bucket / "x.log").write_text("x\n")
    wait_for(lambda: (bucket / "x.obs.md").exists(), what="x.log processed by the new rule")
    wait_for(lambda: engine_idle(host), what="the engine idle")

    host.request_stop()
    assert host.join(20), "the engine process did not stop"
    assert host.exit_code == 0 and host.error is None
    assert host.snapshot().state == "stopped"  # the last snapshot arrives before the exit
    assert gone(host.pid or 0) and not host.alive
    with pytest.raises(EngineProcessError, match="not running"):
        host.apply_config(config)


def test_a_held_state_dir_is_reported_with_the_holders_message(tmp_path: Path, bucket: Path) -> None:
    state = tmp_path / "state"
    lock = acquire_runner_lock(state)
    try:
        h = EngineProcess(make_config([bucket]), state)
        h.start()
        assert h.join(20)
    finally:
        lock.close()
    assert h.exit_code == 2
    assert isinstance(h.error, RunnerLockedError)
    assert "already using the state dir" in str(h.error)


def test_a_killed_engine_process_is_reported(host: EngineProcess) -> None:
    wait_for(lambda: engine_watching(host), what="the engine process running")
    assert host.pid is not None
    os.kill(host.pid, signal.SIGKILL)
    assert host.join(20)
    assert isinstance(host.error, EngineProcessError)
    assert "ended unexpectedly (exit code -9)" in str(host.error)
    assert "obtui.log" in str(host.error)  # where to look


def test_the_engine_process_stops_gracefully_when_its_dashboard_dies(tmp_path: Path, bucket: Path) -> None:
    """kill -9 of the UI process: the engine must not live on as an orphan holding the state dir."""
    state = tmp_path / "state"
    parent_code = textwrap.dedent(
        f"""
        import sys, time
        sys.path[:0] = {[str(Path(__file__).resolve().parents[3])]!r}
        from tests.helpers import make_config
        from pathlib import Path
        from obtui.hosting.process import EngineProcess
        h = EngineProcess(make_config([Path({str(bucket)!r})]), Path({str(state)!r}))
        h.start()
        while h.snapshot().state != "running":
            time.sleep(0.01)
        print(h.pid, flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert os.getpgid(child) != os.getpgid(parent.pid)  # terminal signals are the UI's alone
        parent.kill()
        parent.wait(10)
        wait_for(lambda: gone(child), timeout=30, what="the orphaned engine process to exit")
    finally:
        if parent.poll() is None:
            parent.kill()
    # It stopped the graceful way: final status written, lock released for the next runner.
    wait_for(lambda: (read_status(state) or {}).get("snapshot", {}).get("state") == "stopped", what="status")
    acquire_runner_lock(state).close()
    log = (state / "obtui.log").read_text(encoding="utf-8")
    assert "the dashboard went away" in log


def test_the_dashboard_process_never_imports_the_engine(tmp_path: Path, bucket: Path) -> None:
    """The engine's modules (engine, record writer, watchdog) load in the child only."""
    code = textwrap.dedent(
        f"""
        import sys, time
        sys.path[:0] = {[str(Path(__file__).resolve().parents[3])]!r}
        from tests.helpers import make_config
        from pathlib import Path
        import obtui.tui.app, obtui.tui.launch
        from obtui.hosting.process import EngineProcess
        h = EngineProcess(make_config([Path({str(bucket)!r})]), Path({str(tmp_path / "state")!r}))
        h.start()
        deadline = time.monotonic() + 30
        while h.snapshot().state != "running" and time.monotonic() < deadline:
            time.sleep(0.01)
        h.request_stop()
        assert h.join(20) and h.exit_code == 0, (h.exit_code, h.error)
        print(sorted(m for m in sys.modules if m in ("obtui.engine.engine", "obtui.tracking.writer", "watchdog")))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
