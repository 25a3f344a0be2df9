"""The command action with real subprocesses: argv safety, failures, timeouts, big output."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import pytest

from obtui.config.model import RuleConfig
from obtui.engine.actions.base import ActionContext
from obtui.engine.actions.command import run_command
from obtui.engine.errors import CommandFailedError, CommandNotFoundError, CommandTimeoutError
from tests.helpers import action_context

PY = sys.executable


def make_ctx(
    bucket: Path, path: Path, command: tuple[str, ...], timeout: float = 30.0, output_dir: str | None = None
) -> ActionContext:
    rule = RuleConfig(name="cmd", action="command", command=command, timeout=timeout)
    return action_context(bucket, path, rule, output_dir=output_dir)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie nobody reaped yet (PID 1 in a container) is dead too
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


async def _wait_until(cond, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        await asyncio.sleep(0.02)
    return bool(cond())


async def test_cp_copies_the_file_into_output_dir(bucket: Path) -> None:
    src = bucket / "sub" / "data.bin"
    src.parent.mkdir()
    src.write_bytes(b"\x00\x01payload")
    ctx = make_ctx(bucket, src, ("cp", "{path}", "{output_dir}/{stem}.copy{suffix}"), output_dir="out")
    result = await run_command(ctx)
    copied = bucket / "out" / "sub" / "data.copy.bin"
    assert copied.read_bytes() == b"\x00\x01payload"
    assert result.output_path == bucket / "out" / "sub" and result.file_type == "file"
    assert result.extra["exit_code"] == 0 and result.extra["argv"] == ["cp", str(src), f"{copied}"]
    assert result.bytes_processed == 9


async def test_hostile_name_is_one_argument_and_nothing_else_runs(
    bucket: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "-rf a b; rm -rf ~ $(touch pwned) `touch pwned2` {name} 'q\".txt"
    src = bucket / name
    src.write_text("x\n")
    record = tmp_path / "argv.json"
    script = (
        "import json, os, sys\n"
        "json.dump({'argv': sys.argv[1:], 'env': [os.environ[k] for k in "
        "('OBTUI_PATH', 'OBTUI_BUCKET', 'OBTUI_RULE')]}, open(os.environ['ARGV_OUT'], 'w'))"
    )
    monkeypatch.setenv("ARGV_OUT", str(record))
    await run_command(
        make_ctx(bucket, src, (PY, "-c", script, "{path}", "{name}", "--stem={stem}", "{rel}", "{dir}"))
    )
    got = json.loads(record.read_text())
    stem = name.removesuffix(".txt")
    assert got["argv"] == [str(src), name, f"--stem={stem}", name, str(bucket)]
    assert got["env"] == [str(src), str(bucket), "cmd"]
    leftovers = {p.name for p in tmp_path.rglob("pwned*")} | {p.name for p in Path.cwd().glob("pwned*")}
    assert leftovers == set()


async def test_command_not_found(bucket: Path) -> None:
    src = bucket / "a.txt"
    src.write_text("a\n")
    with pytest.raises(CommandNotFoundError, match="no-such-program-obtui.*PATH") as info:
        await run_command(make_ctx(bucket, src, ("no-such-program-obtui", "{path}")))
    assert info.value.counts_for_breaker
    not_exec = bucket / "script.sh"
    not_exec.write_text("#!/bin/sh\n")
    with pytest.raises(CommandNotFoundError, match="cannot be executed"):
        await run_command(make_ctx(bucket, src, (str(not_exec),)))


async def test_exit_code_3_with_stderr_tail(bucket: Path) -> None:
    src = bucket / "a.txt"
    src.write_text("a\n")
    script = "import sys; print('some output'); print('bad input', file=sys.stderr); sys.exit(3)"
    with pytest.raises(CommandFailedError, match="exited with code 3") as info:
        await run_command(make_ctx(bucket, src, (PY, "-c", script)))
    err = info.value
    assert err.code == "exit 3" and err.context["exit_code"] == 3 and err.transient
    assert "bad input" in err.context["stderr_tail"] and "some output" in err.context["stdout_tail"]


async def test_timeout_kills_the_whole_process_group(bucket: Path, tmp_path: Path) -> None:
    src = bucket / "a.txt"
    src.write_text("a\n")
    pidfile = tmp_path / "grandchild.pid"
    script = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen(['sleep', '60'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    started = time.monotonic()
    with pytest.raises(CommandTimeoutError, match=r"timed out after 1\.5 s") as info:
        await run_command(make_ctx(bucket, src, (PY, "-c", script), timeout=1.5))
    assert time.monotonic() - started < 6
    assert info.value.context["timeout"] == 1.5
    grandchild = int(pidfile.read_text())
    assert await _wait_until(lambda: _gone(grandchild)), "grandchild survived the timeout"


async def test_cancel_kills_the_process_group(bucket: Path, tmp_path: Path) -> None:
    src = bucket / "a.txt"
    src.write_text("a\n")
    pidfile = tmp_path / "child.pid"
    script = f"import os, time\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n"
    task = asyncio.create_task(run_command(make_ctx(bucket, src, (PY, "-c", script))))
    assert await _wait_until(lambda: pidfile.exists() and pidfile.read_text())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _wait_until(lambda: _gone(int(pidfile.read_text())))


async def test_50mb_of_output_neither_hangs_nor_is_kept(bucket: Path) -> None:
    src = bucket / "a.txt"
    src.write_text("a\n")
    script = (
        "import sys\n"
        "sys.stderr.write('e' * 10_000_000 + 'ERR-END')\n"
        "sys.stdout.write('x' * 50_000_000 + 'OUT-END')\n"
    )
    result = await asyncio.wait_for(run_command(make_ctx(bucket, src, (PY, "-c", script))), 30)
    assert result.extra["stdout_tail"].endswith("xOUT-END") and len(result.extra["stdout_tail"]) == 2048
    assert result.extra["stderr_tail"].endswith("eERR-END")


async def test_background_child_holding_the_pipe_does_not_block(bucket: Path, tmp_path: Path) -> None:
    src = bucket / "a.txt"
    src.write_text("a\n")
    pidfile = tmp_path / "bg.pid"
    # The command exits at once but leaves a child that keeps its stdout open.
    script = f"import subprocess\np = subprocess.Popen(['sleep', '60'])\nopen({str(pidfile)!r}, 'w').write(str(p.pid))\n"
    started = time.monotonic()
    result = await run_command(make_ctx(bucket, src, (PY, "-c", script)))
    assert result.extra["exit_code"] == 0 and time.monotonic() - started < 8
    assert await _wait_until(lambda: _gone(int(pidfile.read_text())))
