"""The `command` action: run the rule's program on the file, never through a shell.

Placeholders are substituted inside each argument, so a file name with spaces, quotes, `;`,
`$(…)` or a leading dash is always exactly one argument. The program runs in its own session:
a timeout (or cancellation) kills its whole process group, grandchildren included. It is
spawned and waited for from a worker thread (`spawn.py`), never on the engine loop.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal

from obtui.engine.actions.base import ActionContext, ActionResult
from obtui.engine.actions.spawn import POOL, Child, Ran, run_program
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
RECORD_TAIL = 2 << 10  # characters of each tail put in the record


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


async def run_command(ctx: ActionContext) -> ActionResult:
    """Run `ctx.rule.command` on the file: awaited on the engine loop, the program itself runs
    from a worker thread (see `run_command_sync`). Cancelling kills its process group."""
    child = Child()
    try:
        return await asyncio.get_running_loop().run_in_executor(POOL, run_command_sync, ctx, child)
    except asyncio.CancelledError:
        child.cancel()  # shutting down: leave nothing running
        raise


def run_command_sync(ctx: ActionContext, child: Child) -> ActionResult:
    """Run `ctx.rule.command` on the file (blocking: from a worker thread).

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
    timeout = rule.timeout if rule.timeout and rule.timeout > 0 else None
    try:
        ran = run_program(argv, env, timeout, child)
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
    if ran.timed_out:
        raise CommandTimeoutError(
            f"Command {argv[0]!r} on {ctx.facts.path.name} timed out after {rule.timeout:g} s and was killed",
            code="timeout",
            context=_tails(argv, ran) | {"timeout": rule.timeout},
        )
    code = ran.returncode
    if code != 0:
        if code < 0:
            sig = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            message, short = f"was killed by signal {sig}", f"signal {sig}"
        else:
            message, short = f"exited with code {code}", f"exit {code}"
        raise CommandFailedError(
            f"Command {argv[0]!r} on {ctx.facts.path.name} {message}",
            code=short,
            context=_tails(argv, ran) | {"exit_code": code},
        )
    return ActionResult(
        output_path=ctx.output_dir if uses_output else None,
        file_type="file",
        bytes_processed=ctx.facts.size,
        extra={"exit_code": 0} | _tails(argv, ran),
    )


def _tails(argv: list[str], ran: Ran) -> dict[str, object]:
    return {"argv": argv, "stdout_tail": tail_text(ran.out), "stderr_tail": tail_text(ran.err)}
