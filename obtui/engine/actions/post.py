"""After the record: keep, delete or move the source, and the optional `<name>.result.json`.

Where a file ends up is decided *before* its record commits (`plan_post`), so the record and the
result file name the final place; the move itself (`carry_out`) runs only after the commit. A
planned destination is reserved in this process until the move is done, so two workers moving
same-named files into one folder never pick the same name. Each outcome keeps its own result
file: beside the file where it ends up (`processed/blob-1.bin.result.json`), or, when the file
is deleted, beside where it was under a free name (`blob-1.bin.result.json`).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import stat
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from obtui.config.model import PostAction, RuleConfig
from obtui.engine.actions.base import ActionContext, ActionResult
from obtui.engine.errors import PostActionError, ProcessingError
from obtui.engine.files.outputs import atomic_write_text, resolve_move_target
from obtui.tracking.codec import now_iso

log = logging.getLogger("obtui.post")

RESULT_SUFFIX = ".result.json"
MAX_CLASH = 10_000

# Picking a free name and renaming onto it must not interleave between two workers moving
# same-named files into one folder (os.rename silently replaces an existing file).
_MOVE_LOCK = threading.Lock()
# Destinations planned (record committed or about to) whose move has not happened yet.
_RESERVED: set[Path] = set()


def _post_error(exc: OSError, what: str, source: Path) -> PostActionError:
    code = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    return PostActionError(f"Could not {what} {source}: {exc.strerror or exc}", code=code)


def free_name(folder: Path, name: str, *, also: tuple[str, ...] = ()) -> Path:
    """`folder/name`, or `<stem>-1<suffix>`, `-2`, … if taken (on disk, or reserved for a planned
    move); with `also`, the names with those endings appended must be free too."""

    def free(dest: Path) -> bool:
        if dest in _RESERVED or os.path.lexists(dest):
            return False
        return not any(os.path.lexists(f"{dest}{end}") for end in also)

    dest = folder / name
    if free(dest):
        return dest
    stem, suffix = os.path.splitext(name)
    for n in range(1, MAX_CLASH):
        dest = folder / f"{stem}-{n}{suffix}"
        if free(dest):
            return dest
    raise PostActionError(f"No free name for {name} in {folder}", code="EEXIST")


@dataclass(frozen=True)
class PostPlan:
    """Where a file goes after its record: `final` is its path afterwards (None: deleted);
    `result_path` is where its `.result.json` goes."""

    kind: Literal["keep", "delete", "move"]
    source: Path
    final: Path | None
    result_path: Path

    @property
    def now_at(self) -> Path:
        """Where the file is after the post-action, or where it was if deleted."""
        return self.final if self.final is not None else self.source


def _result_beside(path: Path) -> Path:
    return path.parent / f"{path.name}{RESULT_SUFFIX}"


def _free_result(source: Path) -> Path:
    """`<name>.result.json` beside `source`, or `<stem>-1<suffix>.result.json`, … if taken."""
    stem, suffix = os.path.splitext(source.name)
    for n in range(MAX_CLASH):
        path = _result_beside(source.parent / (f"{stem}-{n}{suffix}" if n else source.name))
        if not os.path.lexists(path):
            return path
    raise PostActionError(f"No free result file name for {source.name} in {source.parent}", code="EEXIST")


def plan_post(source: Path, bucket: Path, post: PostAction, *, planned: Path | None = None) -> PostPlan:
    """Decide (sync) where `source` goes under `post`, reserving a move's destination.

    `planned` is a destination decided before (a record committed before a crash): it is kept.
    Raises PostActionError / PathEscapeError when the move target cannot be used."""
    source = Path(source)
    if post.kind == "keep":
        return PostPlan("keep", source, source, _result_beside(source))
    if post.kind == "delete":
        # The name is free again once the file is gone: keep an earlier outcome's result file.
        return PostPlan("delete", source, None, _free_result(source))
    if post.kind != "move" or not post.target:
        raise PostActionError(f"Unknown post-action {post} for {source}", code="EINVAL")
    folder = resolve_move_target(bucket, post.target)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if os.path.samefile(source.parent, folder):
            return PostPlan("keep", source, source, _result_beside(source))  # already there
    except OSError as exc:
        raise _post_error(exc, f"move to {folder}:", source) from exc
    with _MOVE_LOCK:
        if planned is not None and planned.parent == folder:
            dest = planned
        else:
            dest = free_name(folder, source.name, also=(RESULT_SUFFIX,))
        _RESERVED.add(dest)
    return PostPlan("move", source, dest, _result_beside(dest))


def reserve(dest: Path) -> None:
    """Keep `dest` for a move planned before a restart (see `plan_post(planned=...)`)."""
    with _MOVE_LOCK:
        _RESERVED.add(Path(dest))


def release(plan: PostPlan) -> None:
    """Give up a planned destination (its record did not commit)."""
    if plan.kind == "move" and plan.final is not None:
        with _MOVE_LOCK:
            _RESERVED.discard(plan.final)


def carry_out(plan: PostPlan) -> Path | None:
    """Carry out a planned post-action (sync); returns where the file now is (None: deleted).

    A move goes to the planned name; if something else took that name meanwhile (outside obtui),
    to the next free one. OS errors become PostActionError."""
    source = plan.source
    if plan.kind == "keep":
        return source
    if plan.kind == "delete":
        return apply_post_action(source, source.parent, PostAction("delete"))
    assert plan.final is not None
    try:
        with _MOVE_LOCK:
            _RESERVED.discard(plan.final)
            dest = plan.final
            if os.path.lexists(dest):
                dest = free_name(dest.parent, source.name)
                log.warning("%s was taken meanwhile; %s moved to %s instead", plan.final, source, dest)
            _rename(source, dest)
    except PostActionError:
        raise
    except OSError as exc:
        raise _post_error(exc, f"move to {plan.final.parent}:", source) from exc
    return dest


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
            _rename(source, dest)
    except PostActionError:
        raise
    except OSError as exc:
        raise _post_error(exc, f"move to {folder}:", source) from exc
    return dest


def _rename(source: Path, dest: Path) -> None:
    """Rename `source` to `dest`; across devices, copy then remove."""
    try:
        os.rename(source, dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.move(source, dest)


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
    plan: PostPlan | None = None,
) -> dict[str, Any]:
    """The `.result.json` content (shape of the watch-folder runner's result files). With a
    `plan`, `source_path` is where the file is after its post-action (`original_path` where it
    was dropped, `post_action` what happened)."""
    rule = ctx.rule if ctx is not None else rule
    extra = result.extra if result is not None else {}
    err_ctx = error.context if isinstance(error, ProcessingError) else {}
    output = result.output_path if result is not None else None
    doc: dict[str, Any] = {
        "final_status": status,
        "source_path": str(plan.now_at if plan else source),
        "original_path": str(source),
        "post_action": plan.kind if plan else None,
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
    plan: PostPlan | None = None,
) -> Path:
    """Write `<name>.result.json` (atomically) and return its path: at `plan.result_path`, else
    next to `source`.

    `status` is "COMPLETED" or "FAILED". Without a ctx (inspection failed) pass `rule=` so the
    rule and action are still recorded.
    """
    source = Path(source)
    doc = result_document(source, ctx, status, result, error, started_at, completed_at, rule=rule, plan=plan)
    path = plan.result_path if plan is not None else _result_beside(source)
    atomic_write_text(path, json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")
    return path
