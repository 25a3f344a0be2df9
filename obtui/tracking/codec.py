"""Reading records back from their JSON shape (`SuccessRecord.to_json`, `ErrorRecord.to_json`).

`from_json(rec.to_json()) == rec` holds for every record, except that a success record's
`duration_ms` comes back rounded to the microsecond, as `to_json` writes it (and an `extra` key
named like a metadata field, fileSize/encoding/sha256, would be taken for that field).
Also the store's one timestamp form (`utc_iso`, `now_iso`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from obtui.tracking.records import (
    Category,
    ErrorRecord,
    ManifestEntry,
    ManifestStatus,
    Severity,
    SuccessRecord,
)

_E = TypeVar("_E", bound=StrEnum)

# Keys of a success record's "metadata" that are fields of their own; the rest is `extra`.
_METADATA_FIELDS = ("fileSize", "encoding", "sha256")


def _enum(kind: type[_E], value: Any) -> _E:
    """The enum member, or the raw string when a newer version wrote a value this one lacks."""
    try:
        return kind(value)
    except ValueError:
        return value


def success_from_json(d: dict[str, Any]) -> SuccessRecord:
    """The `SuccessRecord` that `to_json` turned into `d`."""
    ctx = d.get("context") or {}
    proc = d.get("processing") or {}
    meta = dict(d.get("metadata") or {})
    extra = {k: v for k, v in meta.items() if k not in _METADATA_FIELDS}
    return SuccessRecord(
        timestamp=d["timestamp"],
        file_path=d["filePath"],
        watch_dir=d["watchDir"],
        rule=d.get("rule", ""),
        action=d.get("action", ""),
        output_path=d.get("outputPath"),
        matched_patterns=tuple(ctx.get("matchedPatterns", ())),
        files_collected=ctx.get("filesCollected", 1),
        grep_matches=ctx.get("grepMatches", 0),
        duration_ms=float(proc.get("duration", 0.0)),
        bytes_processed=proc.get("bytesProcessed", 0),
        file_type=proc.get("fileType", "text"),
        file_size=meta.get("fileSize", 0),
        encoding=meta.get("encoding"),
        sha256=meta.get("sha256", ""),
        attempts=proc.get("attempts", 1),
        extra=extra,
        record_id=d.get("recordId", ""),
    )


def error_from_json(d: dict[str, Any]) -> ErrorRecord:
    """The `ErrorRecord` that `to_json` turned into `d`."""
    err = d.get("error") or {}
    rec = d.get("recovery") or {}
    return ErrorRecord(
        timestamp=d["timestamp"],
        severity=_enum(Severity, d.get("severity", "ERROR")),
        category=_enum(Category, d.get("category", "System")),
        component=d.get("component", ""),
        operation=d.get("operation", ""),
        message=err.get("message", ""),
        name=err.get("name", ""),
        code=err.get("code"),
        stack=err.get("stack"),
        file_path=d.get("filePath"),
        watch_dir=d.get("watchDir"),
        rule=d.get("rule"),
        context=dict(d.get("context") or {}),
        recovery_attempted=bool(rec.get("attempted", False)),
        recovery_fallback=rec.get("fallback"),
        recovery_successful=bool(rec.get("successful", False)),
        suggestion=d.get("suggestion"),
        error_id=d.get("errorId", ""),
    )


def manifest_to_json(e: ManifestEntry) -> dict[str, Any]:
    """A manifest entry as JSON (snake_case, like the SQLite columns)."""
    return {
        "path": e.path,
        "bucket": e.bucket,
        "sha256": e.sha256,
        "status": str(e.status),
        "processed_at": e.processed_at,
        "size": e.size,
        "mtime_ns": e.mtime_ns,
        "inode": e.inode,
        "rule": e.rule,
        "record_id": e.record_id,
        "output_path": e.output_path,
        "recorded_path": e.recorded_path,
    }


def manifest_from_json(d: dict[str, Any]) -> ManifestEntry:
    """The inverse of `manifest_to_json`."""
    return ManifestEntry(
        path=d["path"],
        bucket=d["bucket"],
        sha256=d["sha256"],
        status=_enum(ManifestStatus, d["status"]),
        processed_at=d["processed_at"],
        size=d.get("size", 0),
        mtime_ns=d.get("mtime_ns", 0),
        inode=d.get("inode", 0),
        rule=d.get("rule", ""),
        record_id=d.get("record_id", ""),
        output_path=d.get("output_path"),
        recorded_path=d.get("recorded_path"),
    )


def utc_iso(ts: str) -> str:
    """`ts` as ISO 8601 UTC with milliseconds and Z, the only form the store keeps (it sorts as
    text). A naive time is taken as UTC. Raises ValueError for text that is not ISO 8601."""
    if len(ts) == 24 and ts[10] == "T" and ts[19] == "." and ts[23] == "Z":
        return ts
    dt = datetime.fromisoformat(ts)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    """The current time in the store's timestamp form."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
