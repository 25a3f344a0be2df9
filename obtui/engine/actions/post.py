"""After the record: keep, delete or move the source, and the optional `<name>.result.json`."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from obtui.config.model import PostAction, RuleConfig
from obtui.engine.actions.base import ActionContext, ActionResult
from obtui.engine.errors import PostActionError, ProcessingError
from obtui.engine.files.outputs import atomic_write_text, resolve_move_target
from obtui.tracking.codec import now_iso

RESULT_SUFFIX = ".result.json"
MAX_CLASH = 10_000

# Picking a free name and renaming onto it must not interleave between two workers moving
# same-named files into one folder (os.rename silently replaces an existing file).
_MOVE_LOCK = threading.Lock()


def _post_error(exc: OSError, what: str, source: Path) -> PostActionError:
    code = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    return PostActionError(f"Could not {what} {source}: {exc.strerror or exc}", code=code)


def free_name(folder: Path, name: str) -> Path:
    """`folder/name`, or `<stem>-1<suffix>`, `-2`, … if taken."""
    dest = folder / name
    if not os.path.lexists(dest):
        return dest
    stem, suffix = os.path.splitext(name)
    for n in range(1, MAX_CLASH):
        dest = folder / f"{stem}-{n}{suffix}"
        if not os.path.lexists(dest):
            return dest
    raise PostActionError(f"No free name for {name} in {folder}", code="EEXIST")


def apply_post_action(source: Path, bucket: Path, post: PostAction) -> Path | None:
    """Carry out `post` on `source` (sync). Returns where the file now is (None when deleted).

    keep: nothing. delete: unlink (a missing file is fine; a dropped folder is removed with its
    content). move:DIR: into DIR (relative to the bucket, must stay inside it, else
    PathEscapeError; or absolute), created if missing, as `DIR/<name>`, `<stem>-1<suffix>` … on a
    clash; across devices it is copied then removed. OS errors become PostActionError.
    """
    source = Path(source)
    if post.kind == "keep":
        return source
    if post.kind == "delete":
        try:
            if stat.S_ISDIR(os.lstat(source).st_mode):
                shutil.rmtree(source)
            else:
                source.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _post_error(exc, "delete", source) from exc
        return None
    if post.kind != "move" or not post.target:
        raise PostActionError(f"Unknown post-action {post} for {source}", code="EINVAL")
    folder = resolve_move_target(bucket, post.target)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if os.path.samefile(source.parent, folder):
            return source  # already there
        with _MOVE_LOCK:
            dest = free_name(folder, source.name)
            try:
                os.rename(source, dest)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                shutil.move(source, dest)
    except PostActionError:
        raise
    except OSError as exc:
        raise _post_error(exc, f"move to {folder}:", source) from exc
    return dest


def _version() -> str:
    try:
        from obtui import __version__

        return __version__
    except ImportError:  # a stale editable install can make `obtui` a namespace package
        from importlib.metadata import version

        return version("obtui")


def _duration(started_at: str, completed_at: str) -> float | None:
    try:
        delta = datetime.fromisoformat(completed_at) - datetime.fromisoformat(started_at)
    except (TypeError, ValueError):
        return None
    return round(delta.total_seconds(), 3)


def result_document(
    source: Path,
    ctx: ActionContext | None,
    status: str,
    result: ActionResult | None,
    error: BaseException | None,
    started_at: str,
    completed_at: str,
    *,
    rule: RuleConfig | None = None,
) -> dict[str, Any]:
    """The `.result.json` content (shape of the watch-folder runner's result files)."""
    rule = ctx.rule if ctx is not None else rule
    extra = result.extra if result is not None else {}
    err_ctx = error.context if isinstance(error, ProcessingError) else {}
    output = result.output_path if result is not None else None
    doc: dict[str, Any] = {
        "final_status": status,
        "source_path": str(source),
        "bucket": str(ctx.bucket) if ctx else None,
        "rel": ctx.rel if ctx else None,
        "sha256": ctx.facts.sha256 if ctx else None,
        "size": ctx.facts.size if ctx else None,
        "rule": rule.name if rule else None,
        "action": rule.action if rule else None,
        "command": extra.get("argv", err_ctx.get("argv")),
        "exit_code": extra.get("exit_code", err_ctx.get("exit_code")),
        "output_path": str(output) if output else None,
        "output_exists": output.exists() if output else False,
        "file_type": result.file_type if result else None,
        "grep_matches": result.grep_matches if result else None,
        "failure_reason": (getattr(error, "message", None) or str(error)) if error else None,
        "error": None,
        "started_at": started_at,
        "completed_at": completed_at,
        "duration_seconds": _duration(started_at, completed_at),
        "_metadata": {
            "obtui_version": ctx.obtui_version if ctx and ctx.obtui_version else _version(),
            "result_written_at": now_iso(),
            "attempt": ctx.attempt if ctx else None,
        },
    }
    if error is not None:
        doc["error"] = {
            "name": type(error).__name__,
            "code": getattr(error, "code", None),
            "category": str(getattr(error, "category", "")) or None,
            "suggestion": getattr(error, "suggestion", None),
            "stderr_tail": err_ctx.get("stderr_tail"),
        }
    return doc


def write_result_json(
    source: Path,
    ctx: ActionContext | None,
    status: str,
    result: ActionResult | None,
    error: BaseException | None,
    started_at: str,
    completed_at: str,
    *,
    rule: RuleConfig | None = None,
) -> Path:
    """Write `<name>.result.json` next to `source` (atomically) and return its path.

    `status` is "COMPLETED" or "FAILED". Without a ctx (inspection failed) pass `rule=` so the
    rule and action are still recorded.
    """
    source = Path(source)
    doc = result_document(source, ctx, status, result, error, started_at, completed_at, rule=rule)
    path = source.parent / f"{source.name}{RESULT_SUFFIX}"
    atomic_write_text(path, json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")
    return path
