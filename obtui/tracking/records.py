"""Record shapes kept in the store: success records, error records and manifest entries.

The JSON shape (`to_json`) follows the Open Buckets Runner design (recordId, filePath, watchDir,
context, processing, metadata / errorId, severity, category, component, error, recovery).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Category(StrEnum):
    """Error categories, from the Open Buckets design's table."""

    CONFIGURATION = "Configuration"
    FILE_ACCESS = "FileAccess"
    PATTERN_MATCHING = "PatternMatching"
    EXTERNAL_TOOL = "ExternalTool"
    FILE_CONTENT = "FileContent"
    SYSTEM = "System"


class Severity(StrEnum):
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


DEFAULT_SEVERITY: dict[Category, Severity] = {
    Category.CONFIGURATION: Severity.WARNING,
    Category.FILE_ACCESS: Severity.ERROR,
    Category.PATTERN_MATCHING: Severity.WARNING,
    Category.EXTERNAL_TOOL: Severity.WARNING,
    Category.FILE_CONTENT: Severity.INFO,
    Category.SYSTEM: Severity.ERROR,
}


class ManifestStatus(StrEnum):
    """Where a path stands. `done`/`failed` at the same sha256 are never processed again."""

    DONE = "done"
    FAILED = "failed"
    POST_PENDING = "post_pending"  # record committed, keep/delete/move not yet carried out
    CONSUMED = "consumed"  # moved or deleted by a post-action: a new drop at this path is new work


@dataclass(frozen=True)
class ManifestEntry:
    """The idempotency key of a path: what content was last handled there, and how it ended.

    `size`, `mtime_ns` and `inode` let a scan skip hashing files whose stat has not changed.
    """

    path: str
    bucket: str
    sha256: str
    status: ManifestStatus
    processed_at: str  # ISO 8601 UTC
    size: int = 0
    mtime_ns: int = 0
    inode: int = 0
    rule: str = ""
    record_id: str = ""  # the success or error record that settled it
    moved_to: str | None = None  # where the post-action (move:DIR) put the file
    # Read with the entry from the record that settled it (not stored in the manifest): the output
    # its success wrote, if any (a settled file whose output is gone is processed again), and
    # the path the record names, which is where a post-action puts the file (`post_pending`).
    output_path: str | None = None
    recorded_path: str | None = None
    # ... and the duration and bytes of that success, which leave the figures with it when a later
    # outcome of the file supersedes it (see `tracking/latest.py`).
    recorded_duration_ms: float = 0.0
    recorded_bytes: int = 0


@dataclass(frozen=True)
class SuccessRecord:
    """One successfully processed file (or folder summary). `record_id` is assigned by the store."""

    timestamp: str  # ISO 8601 UTC with milliseconds and Z
    file_path: str
    watch_dir: str
    rule: str
    action: str
    output_path: str | None
    matched_patterns: tuple[str, ...] = ()
    files_collected: int = 1
    grep_matches: int = 0
    duration_ms: float = 0.0
    bytes_processed: int = 0
    file_type: str = "text"  # text | binary | folder
    file_size: int = 0
    encoding: str | None = None
    sha256: str = ""
    attempts: int = 1
    extra: dict[str, Any] = field(default_factory=dict)  # exit_code, stdout_tail, grep_tool, ...
    record_id: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "recordId": self.record_id,
            "timestamp": self.timestamp,
            "filePath": self.file_path,
            "watchDir": self.watch_dir,
            "outputPath": self.output_path,
            "rule": self.rule,
            "action": self.action,
            "context": {
                "matchedPatterns": list(self.matched_patterns),
                "filesCollected": self.files_collected,
                "grepMatches": self.grep_matches,
            },
            "processing": {
                "duration": round(self.duration_ms, 3),
                "bytesProcessed": self.bytes_processed,
                "fileType": self.file_type,
                "attempts": self.attempts,
            },
            "metadata": {
                "fileSize": self.file_size,
                "encoding": self.encoding,
                "sha256": self.sha256,
                **self.extra,
            },
        }


@dataclass(frozen=True)
class ErrorRecord:
    """One failure, with what was tried to recover and a one-line suggestion for the user."""

    timestamp: str
    severity: Severity
    category: Category
    component: str  # Watcher, Dispatcher, Processor, Note, Command, PostAction, Config, Store, ...
    operation: str  # e.g. readFile, runCommand, moveFile, reloadConfig
    message: str
    name: str = ""  # exception-like name, e.g. PermissionDeniedError, CommandTimeoutError
    code: str | None = None  # errno name or exit code, e.g. EACCES, "exit 3"
    stack: str | None = None
    file_path: str | None = None
    watch_dir: str | None = None
    rule: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    recovery_attempted: bool = False
    recovery_fallback: str | None = None
    recovery_successful: bool = False
    suggestion: str | None = None
    error_id: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "errorId": self.error_id,
            "timestamp": self.timestamp,
            "severity": str(self.severity),
            "category": str(self.category),
            "component": self.component,
            "filePath": self.file_path,
            "watchDir": self.watch_dir,
            "rule": self.rule,
            "operation": self.operation,
            "error": {
                "name": self.name,
                "message": self.message,
                "code": self.code,
                "stack": self.stack,
            },
            "context": self.context,
            "recovery": {
                "attempted": self.recovery_attempted,
                "fallback": self.recovery_fallback,
                "successful": self.recovery_successful,
            },
            "suggestion": self.suggestion,
        }
