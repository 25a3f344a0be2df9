"""Acceptance 6: each bad input yields one error record with the right category, and the runner
keeps going; a failing command opens its rule's breaker (visible in status) and recovers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from obtui.config.model import RuleConfig
from tests.helpers import db_rows, make_config, running_engine, success_count, wait_for


def _errors(state: Path) -> list[tuple[str, str, str]]:
    if not (state / "obtui.db").exists():
        return []
    return db_rows(state, "select file_path, category, message from errors order by ts")


def _errors_for(state: Path, name: str) -> list[tuple[str, str, str]]:
    return [e for e in _errors(state) if e[0] and os.path.basename(e[0]) == name]


def test_bad_files_each_one_error_and_runner_keeps_going(buckets, tmp_path):
    inc, _, state = buckets
    outside = tmp_path / "secret.txt"
    outside.write_text("outside the bucket\n")
    cfg = make_config([inc], max_file_size=1000)
    with running_engine(cfg, state):
        (inc / "bin.dat").write_bytes(b"\x00\x01\x02binary")
        (inc / "latin.txt").write_bytes(b"caf\xe9 TODO\n")
        (inc / "empty.txt").write_bytes(b"")
        (inc / "big.txt").write_bytes(b"x" * 5000)
        os.mkfifo(inc / "pipe.txt")
        (inc / "escape.txt").symlink_to(outside)
        names = ["with space.txt", "ünïcødé.txt", "new\nline.txt", "-dash.txt"]
        for n in names:
            (inc / n).write_text("fine\n")
        wait_for(lambda: success_count(state) >= 2 + len(names), what="good files processed")
        wait_for(
            lambda: all(
                _errors_for(state, n) for n in ("empty.txt", "big.txt", "pipe.txt", "escape.txt", "latin.txt")
            ),
            what="an error record per bad file",
        )
        (inc / "after.txt").write_text("still running\n")
        wait_for(lambda: success_count(state) >= 3 + len(names), what="runner keeps going")
    cats = {
        n: [e[1] for e in _errors_for(state, n)]
        for n in ("empty.txt", "big.txt", "pipe.txt", "escape.txt", "latin.txt")
    }
    assert cats == {
        "empty.txt": ["FileContent"],
        "big.txt": ["FileContent"],
        "pipe.txt": ["FileAccess"],
        "escape.txt": ["FileAccess"],
        "latin.txt": ["FileContent"],  # informational: the note is written with a fallback decoding
    }
    assert not _errors_for(state, "bin.dat")
    assert (inc / "bin.obs.md").exists() and (inc / "latin.obs.md").exists()
    done = {os.path.basename(r[0]) for r in db_rows(state, "select file_path from successes")}
    assert set(names) <= done


def _without_dac_override() -> list[str] | None:
    """A command prefix that runs a program without the capability to bypass file permissions:
    as root, the only way for a chmod 000 file to be really unreadable."""
    import shutil

    if os.geteuid() != 0:
        return []  # an ordinary user cannot read a chmod 000 file anyway
    setpriv = shutil.which("setpriv")
    if not setpriv:
        return None
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]


def test_unreadable_file_is_a_file_access_error(tmp_path):
    import subprocess

    prefix = _without_dac_override()
    if prefix is None:
        pytest.skip("setpriv (util-linux) is needed to drop root's permission override")
    inc, state = tmp_path / "in", tmp_path / "st"
    inc.mkdir()
    locked = inc / "locked.txt"
    locked.write_text("private\n")
    (inc / "open.txt").write_text("public\n")
    for p in (locked, inc / "open.txt"):
        os.utime(p, (1, 1))
    locked.chmod(0)
    env = {**os.environ, "OBTUI_CONFIG": str(tmp_path / "none.toml")}
    r = subprocess.run(
        [*prefix, sys.executable, "-m", "obtui", "--headless", "--once", "--state-dir", str(state), str(inc)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert r.returncode == 1, r.stderr
    assert [e[1] for e in _errors_for(state, "locked.txt")] == ["FileAccess"]
    assert success_count(state) == 1


def test_deleted_before_processing_is_recorded(buckets, tmp_path):
    inc, _, state = buckets
    gate = tmp_path / "gate"
    # One worker, held busy by a command that waits for the gate file: the next file queues
    # behind it and is deleted while it waits.
    hold = RuleConfig(
        name="hold",
        patterns=("hold.txt",),
        action="command",
        command=(
            sys.executable,
            "-c",
            f"import os,time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.01)",
        ),
    )
    notes = RuleConfig(name="notes", patterns=("*.txt",))
    with running_engine(make_config([inc], [hold, notes], concurrency=1), state) as engine:
        (inc / "hold.txt").write_text("hold\n")
        wait_for(lambda: engine.snapshot().queue.processing == 1, what="worker busy")
        (inc / "gone.txt").write_text("gone\n")
        wait_for(lambda: engine.snapshot().queue.pending == 1, what="queued")
        (inc / "gone.txt").unlink()
        gate.write_text("go")
        wait_for(lambda: _errors_for(state, "gone.txt"), what="vanished error")
    assert [e[1] for e in _errors_for(state, "gone.txt")] == ["FileAccess"]


def test_command_failures_categories_and_breaker(buckets, tmp_path):
    inc, _, state = buckets
    py = sys.executable
    rules = [
        RuleConfig(
            name="missing",
            patterns=("*.nf",),
            action="command",
            command=("no-such-program-obtui", "{path}"),
            retries=0,
        ),
        RuleConfig(
            name="exit3",
            patterns=("*.e3",),
            action="command",
            command=(py, "-c", "import sys; sys.exit(3)"),
            retries=0,
        ),
        RuleConfig(
            name="slow",
            patterns=("*.to",),
            action="command",
            command=(py, "-c", "import time; time.sleep(30)"),
            timeout=0.5,
            retries=0,
        ),
        RuleConfig(
            name="loud",
            patterns=("*.big",),
            action="command",
            command=(py, "-c", "import sys; sys.stdout.write('x' * 50_000_000)"),
        ),
    ]
    with running_engine(
        make_config([inc], rules, concurrency=1, breaker_threshold=5, breaker_reset_seconds=3.0), state
    ) as engine:
        (inc / "a.nf").write_text("a\n")
        (inc / "b.e3").write_text("b\n")
        (inc / "c.to").write_text("c\n")
        (inc / "d.big").write_text("d\n")
        wait_for(lambda: len(_errors(state)) >= 3 and success_count(state) >= 1, timeout=60, what="outcomes")
        errs = {os.path.basename(e[0]): e for e in _errors(state)}
        assert errs["a.nf"][1] == "ExternalTool" and "no-such-program-obtui" in errs["a.nf"][2]
        assert errs["b.e3"][1] == "ExternalTool" and "3" in errs["b.e3"][2]
        assert errs["c.to"][1] == "ExternalTool" and "timed out" in errs["c.to"][2].lower()
        # Five straight failures of one rule open its breaker; the files wait, they are not failed.
        for i in range(7):
            (inc / f"n{i}.e3").write_text(f"{i}\n")
        wait_for(
            lambda: any(b.rule == "exit3" and b.state != "closed" for b in engine.snapshot().breakers),
            what="breaker open",
        )
        snap = engine.snapshot()
        assert snap.queue.waiting >= 1
        failed_e3 = len([e for e in _errors(state) if e[0].endswith(".e3")])
        assert failed_e3 <= 6
    # Recovery: a working command for the same rule closes the breaker and releases the waiters.
    fixed = [
        RuleConfig(name="exit3", patterns=("*.e3",), action="command", command=(py, "-c", "pass"), retries=0)
    ]
    with running_engine(make_config([inc], fixed, breaker_reset_seconds=0.5), state) as engine:
        wait_for(lambda: success_count(state) >= 2, timeout=30, what="recovered")
