"""What the record store offers (`RecordStore`) and what a report is (`Report`), for the
tracking package and its readers (`--report`, the TUI's error screens, the engine's ledger).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from obtui.api.snapshot import DirReport, Figures
from obtui.tracking.records import ErrorRecord, ManifestEntry, ManifestStatus, SuccessRecord


@dataclass(frozen=True)
class Report:
    """What `obtui --report` prints: successes grouped by directory and errors by category."""

    since: str | None
    directories: tuple[DirReport, ...] = ()
    errors_by_category: dict[str, int] = field(default_factory=dict)
    total_success: int = 0
    total_failed: int = 0  # files whose outcome was a failure
    total_errors: int = 0  # error records (includes informational ones)

    @property
    def figures(self) -> Figures:
        """The totals as the one definition of the figures (see `Figures`)."""
        return Figures(self.total_success, self.total_failed, self.total_errors)


class RecordStore(Protocol):
    """Durable record of outcomes. Every method is synchronous and blocking: call it from a thread
    (the engine's writer thread, a TUI thread worker), never from an event loop directly.

    Safe to use from several threads; writers are serialised internally.
    """

    def manifest_get(self, path: str) -> ManifestEntry | None: ...

    def manifest_get_many(self, paths: list[str]) -> dict[str, ManifestEntry]: ...

    def manifest_pending(self) -> list[ManifestEntry]:
        """Entries whose post-action is still to be carried out (status POST_PENDING)."""
        ...

    def commit_success(self, record: SuccessRecord, entry: ManifestEntry) -> SuccessRecord:
        """Store the record and the manifest entry in one transaction; return it with its id."""
        ...

    def commit_error(self, record: ErrorRecord, entry: ManifestEntry | None = None) -> ErrorRecord:
        """Store the error record (and, when given, the manifest entry) in one transaction."""
        ...

    def commit_batch(
        self,
        items: list[tuple[SuccessRecord | ErrorRecord, ManifestEntry | None]],
    ) -> list[SuccessRecord | ErrorRecord]:
        """Group commit: all items in one transaction, ids assigned in order."""
        ...

    def set_manifest_status(self, path: str, status: ManifestStatus, moved_to: str | None = None) -> None: ...

    def report(self, since: str | None = None) -> Report: ...

    def errors(
        self,
        since: str | None = None,
        limit: int = 50,
        category: str | None = None,
        text: str | None = None,
    ) -> list[ErrorRecord]:
        """Newest first. `text` filters on message, file path and error id (case-insensitive)."""
        ...

    def error(self, error_id: str) -> ErrorRecord | None: ...

    def successes(self, since: str | None = None, limit: int = 50) -> list[SuccessRecord]: ...

    def close(self) -> None: ...
