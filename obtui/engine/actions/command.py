"""The `command` action: run the rule's program on the file, never through a shell.

Placeholders are substituted inside each argument, so a file name with spaces, quotes, `;`,
`$(…)` or a leading dash is always exactly one argument. The program runs in its own session:
a timeout (or cancellation) kills its whole process group, grandchildren included.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from asyncio.subprocess import DEVNULL, PIPE

from obtui.engine.actions.base import ActionContext, ActionResult
from obtui.engine.errors import (
    CommandFailedError,
    CommandNotFoundError,
    CommandTimeoutError,
    OutputError,
)

PLACEHOLDERS = ("path", "name", "stem", "suffix", "dir", "bucket", "output_dir", "rel")
# One pass over each argument: a value that itself contains `{name}` (a file called
# `a{name}.txt`) is not substituted again.
_PLACEHOLDER_RE = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
KEEP = 64 << 10  # bytes of stdout / stderr kept while the command runs (the tail)
RECORD_TAIL = 2 << 10  # characters of each tail put in the record
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
EOF_GRACE = 2.0  # after the program exits, how long leftover children may hold its pipes


def placeholder_values(ctx: ActionContext) -> dict[str, str]:
    """The value of each `{placeholder}` for this file (`path` is the absolute source path)."""
    path = ctx.facts.path
    return {
        "path": str(path),
        "name": path.name,
        "stem": path.stem,
        "suffix": path.suffix,
        "dir": str(path.parent),
        "bucket": str(ctx.bucket),
        "output_dir": str(ctx.output_dir),
        "rel": ctx.rel,
    }


def build_argv(template: tuple[str, ...] | list[str], values: dict[str, str]) -> list[str]:
    """Substitute placeholders in each argument of `template`; the argument count never changes."""
    return [_PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], arg) for arg in template]


def tail_text(data: bytes | bytearray, limit: int = RECORD_TAIL) -> str:
    """The last `limit` characters of `data`, decoded leniently."""
    text = bytes(data[-limit * 4 :]).decode("utf-8", "replace")
    return text[-limit:]


class _Capture(asyncio.SubprocessProtocol):
    """Keeps the last KEEP bytes of stdout/stderr (memory stays flat, the pipes never fill) and
    tells apart the program's exit from the end of its output: a child left running can hold
    the pipes open long after, and `Process.wait()` would wait for that too."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.out = bytearray()
        self.err = bytearray()
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()  # every pipe at EOF

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        buf = self.out if fd == 1 else self.err
        buf += data
        if len(buf) > KEEP:
            del buf[:-KEEP]

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


async def _within(fut: asyncio.Future[None], seconds: float | None) -> bool:
    """True if `fut` completes within `seconds` (None: no limit); `fut` itself is never cancelled."""
    try:
        await asyncio.wait_for(asyncio.shield(fut), seconds)
    except TimeoutError:
        return False
    return True


async def _kill_group(pgid: int, cap: _Capture) -> None:
    """SIGTERM the process group, SIGKILL whatever is left after KILL_GRACE."""
    _signal_group(pgid, signal.SIGTERM)
    await _within(cap.exited, KILL_GRACE)
    # Always: group members that ignored SIGTERM outlive a leader that honoured it.
    _signal_group(pgid, signal.SIGKILL)
    await _within(cap.exited, KILL_GRACE)


async def _finish(pgid: int, cap: _Capture) -> None:
    """Let the output reach EOF; children still holding the pipes are killed, then abandoned."""
    if not await _within(cap.closed, EOF_GRACE):
        _signal_group(pgid, signal.SIGKILL)
        await _within(cap.closed, EOF_GRACE)


async def run_command(ctx: ActionContext) -> ActionResult:
    """Run `ctx.rule.command` on the file (async; on the engine loop).

    Raises CommandNotFoundError (cannot exec), CommandTimeoutError (after `rule.timeout`; the
    process group is killed) or CommandFailedError (exit code != 0, with stdout/stderr tails in
    its context). The environment is obtui's plus OBTUI_PATH, OBTUI_BUCKET, OBTUI_RULE,
    OBTUI_REL and OBTUI_OUTPUT_DIR (in cluster mode also OBTUI_JOB_KEY, OBTUI_ATTEMPT, OBTUI_HOST).
    """
    rule = ctx.rule
    values = placeholder_values(ctx)
    argv = build_argv(rule.command, values)
    if not argv:
        raise CommandNotFoundError(f"Rule {rule.name!r} has an empty command", code="EMPTY")
    uses_output = any("{output_dir}" in arg for arg in rule.command)
    if uses_output:
        try:
            ctx.output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"Could not create {ctx.output_dir}: {exc.strerror or exc}") from exc
    env = {
        **os.environ,
        "OBTUI_PATH": values["path"],
        "OBTUI_BUCKET": values["bucket"],
        "OBTUI_RULE": rule.name,
        "OBTUI_REL": ctx.rel,
        "OBTUI_OUTPUT_DIR": values["output_dir"],
        **ctx.env,  # cluster mode: OBTUI_JOB_KEY, OBTUI_ATTEMPT, OBTUI_HOST
    }
    loop = asyncio.get_running_loop()
    try:
        transport, cap = await loop.subprocess_exec(
            lambda: _Capture(loop),
            *argv,
            stdin=DEVNULL,
            stdout=PIPE,
            stderr=PIPE,
            start_new_session=True,
            env=env,
        )
    except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
        what = "was not found" if isinstance(exc, FileNotFoundError) else "cannot be executed"
        raise CommandNotFoundError(
            f"Command {argv[0]!r} {what} (rule {rule.name!r}); check PATH or give its full path",
            code=type(exc).__name__,
            context={"argv": argv, "PATH": os.environ.get("PATH", "")},
        ) from exc
    except OSError as exc:
        raise CommandNotFoundError(
            f"Command {argv[0]!r} could not be started: {exc.strerror or exc}; check PATH and the file",
            code=type(exc).__name__,
            context={"argv": argv},
        ) from exc
    pgid = transport.get_pid()
    timeout = rule.timeout if rule.timeout and rule.timeout > 0 else None
    try:
        if not await _within(cap.exited, timeout):
            await _kill_group(pgid, cap)
            await _finish(pgid, cap)
            raise CommandTimeoutError(
                f"Command {argv[0]!r} on {ctx.facts.path.name} timed out after {rule.timeout:g} s and was killed",
                code="timeout",
                context=_tails(argv, cap) | {"timeout": rule.timeout},
            )
        await _finish(pgid, cap)
    except asyncio.CancelledError:
        _signal_group(pgid, signal.SIGKILL)  # shutting down: leave nothing running
        raise
    finally:
        transport.close()
    code = transport.get_returncode() or 0
    if code != 0:
        if code < 0:
            sig = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            message, short = f"was killed by signal {sig}", f"signal {sig}"
        else:
            message, short = f"exited with code {code}", f"exit {code}"
        raise CommandFailedError(
            f"Command {argv[0]!r} on {ctx.facts.path.name} {message}",
            code=short,
            context=_tails(argv, cap) | {"exit_code": code},
        )
    return ActionResult(
        output_path=ctx.output_dir if uses_output else None,
        file_type="file",
        bytes_processed=ctx.facts.size,
        extra={"exit_code": 0} | _tails(argv, cap),
    )


def _tails(argv: list[str], cap: _Capture) -> dict[str, object]:
    return {"argv": argv, "stdout_tail": tail_text(cap.out), "stderr_tail": tail_text(cap.err)}
