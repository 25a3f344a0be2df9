"""Build success and error records from what happened to a file."""

from __future__ import annotations

import errno
import os
import traceback
from typing import Any

from obtui.engine.actions.base import ActionContext, ActionResult
from obtui.engine.errors import ProcessingError
from obtui.engine.files.facts import FileFacts
from obtui.tracking.codec import now_iso
from obtui.tracking.records import (
    DEFAULT_SEVERITY,
    Category,
    ErrorRecord,
    ManifestEntry,
    ManifestStatus,
    Severity,
    SuccessRecord,
)


def success_record(ctx: ActionContext, result: ActionResult, duration_ms: float) -> SuccessRecord:
    return SuccessRecord(
        timestamp=now_iso(),
        file_path=str(ctx.facts.path),
        watch_dir=str(ctx.bucket),
        rule=ctx.rule.name,
        action=ctx.rule.action,
        output_path=str(result.output_path) if result.output_path else None,
        matched_patterns=(ctx.matched_pattern,),
        files_collected=result.files_collected,
        grep_matches=result.grep_matches,
        duration_ms=duration_ms,
        bytes_processed=result.bytes_processed,
        file_type=result.file_type,
        file_size=ctx.facts.size,
        encoding=result.encoding,
        sha256=ctx.facts.sha256,
        attempts=ctx.attempt,
        extra=dict(result.extra),
    )


def manifest_entry(
    path: str, bucket: str, facts: FileFacts | None, status: ManifestStatus, rule: str
) -> ManifestEntry:
    """The manifest entry for `path`. Without facts (the file could not be read) the entry keys
    on the file's stat, so an unchanged bad file is not retried every scan."""
    if facts is not None:
        return ManifestEntry(
            path=path,
            bucket=bucket,
            sha256=facts.sha256,
            status=status,
            processed_at=now_iso(),
            size=facts.size,
            mtime_ns=facts.mtime_ns,
            inode=facts.inode,
            rule=rule,
        )
    try:
        st = os.lstat(path)
        size, mtime_ns, inode = st.st_size, st.st_mtime_ns, st.st_ino
    except OSError:
        size, mtime_ns, inode = -1, 0, 0
    return ManifestEntry(
        path=path,
        bucket=bucket,
        sha256=f"stat:{inode}:{size}:{mtime_ns}",
        status=status,
        processed_at=now_iso(),
        size=size,
        mtime_ns=mtime_ns,
        inode=inode,
        rule=rule,
    )


def error_record(
    exc: BaseException,
    *,
    path: str | None,
    bucket: str | None,
    rule: str | None,
    attempts: int = 1,
    severity: Severity | None = None,
    recovery_fallback: str | None = None,
    recovery_successful: bool = False,
    context: dict[str, Any] | None = None,
) -> ErrorRecord:
    """An ErrorRecord for any exception: ours carry their category; others are classified."""
    ctx: dict[str, Any] = dict(context or {})
    if isinstance(exc, ProcessingError):
        category, component, operation = exc.category, exc.component, exc.operation
        name, code, message, suggestion = exc.name, exc.code, exc.message, exc.suggestion
        ctx.update(exc.context)
        stack = None
    else:
        category, code, suggestion = _classify_os_error(exc)
        component, operation = "Processor", "process"
        name, message = type(exc).__name__, str(exc) or type(exc).__name__
        stack = "".join(traceback.format_exception(exc)).strip()[-8000:]
    if attempts > 1:
        ctx["attempts"] = attempts
    return ErrorRecord(
        timestamp=now_iso(),
        severity=severity or DEFAULT_SEVERITY[category],
        category=category,
        component=component,
        operation=operation,
        message=message,
        name=name,
        code=code,
        stack=stack,
        file_path=path,
        watch_dir=bucket,
        rule=rule,
        context=ctx,
        recovery_attempted=attempts > 1 or recovery_fallback is not None,
        recovery_fallback=recovery_fallback or ("retry with backoff" if attempts > 1 else None),
        recovery_successful=recovery_successful,
        suggestion=suggestion,
    )


def _classify_os_error(exc: BaseException) -> tuple[Category, str | None, str | None]:
    if isinstance(exc, OSError) and exc.errno is not None:
        code = errno.errorcode.get(exc.errno, str(exc.errno))
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return Category.SYSTEM, code, "The disk is full: free space; waiting files are retried."
        if exc.errno == errno.ENOMEM:
            return Category.SYSTEM, code, "Out of memory: lower [runner] concurrency."
        if exc.errno in (errno.EACCES, errno.EPERM, errno.ENOENT, errno.EROFS):
            return Category.FILE_ACCESS, code, "Check that the path exists and is readable/writable."
        return Category.SYSTEM, code, None
    if isinstance(exc, MemoryError):
        return Category.SYSTEM, "ENOMEM", "Out of memory: lower [runner] concurrency."
    return Category.SYSTEM, None, "An unexpected error: the stack is in the record; please report it."
