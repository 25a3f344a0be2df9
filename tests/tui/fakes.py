"""Test doubles for the TUI: an engine host with fixed or scripted snapshots, an in-memory record
store, and a realistic sample snapshot. Nothing here touches the file system or the clock."""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Sequence
from typing import Any

from obtui.api.control import ReloadDiff
from obtui.api.snapshot import (
    BreakerState,
    BucketState,
    ClusterHost,
    ClusterView,
    DirReport,
    EngineSnapshot,
    ErrorSummary,
    Metrics,
    QueueItem,
    QueueStatus,
)
from obtui.config.model import Config
from obtui.tracking.interfaces import Report
from obtui.tracking.records import Category, ErrorRecord, Severity

NOW = 1_771_388_400.0  # 2026-02-18T04:20:00Z, the frozen clock of every TUI test
STARTED = NOW - 932.0


def frozen_clock() -> float:
    return NOW


class FakeEngine:
    """An `EngineHost`: serves `snapshot` (or the current step of `script`) and records calls.

    `join()` returns True once a stop was requested, unless `hold_stop` is set (then only after
    `finish_stop()`), so tests can look at the app while it is stopping.
    """

    def __init__(
        self,
        snapshot: EngineSnapshot | None = None,
        *,
        script: Sequence[EngineSnapshot] = (),
        diff: ReloadDiff | None = None,
        hold_stop: bool = False,
    ) -> None:
        self.script = list(script)
        self.step = 0
        self._snapshot = snapshot or (self.script[0] if self.script else sample_snapshot())
        self.diff = diff or ReloadDiff(rules_changed=("notes",))
        self.hold_stop = hold_stop
        self.calls: list[tuple[Any, ...]] = []
        self.applied: list[Config] = []
        self.apply_threads: list[threading.Thread] = []
        self.joins = 0
        self.error: BaseException | None = None
        self.exit_code: int | None = None
        self.config_errors: list[tuple[str, str | None]] = []
        self._stopped = threading.Event()

    # scripting
    def advance(self) -> EngineSnapshot:
        """Move to the next scripted snapshot (stays on the last one)."""
        if self.step + 1 < len(self.script):
            self.step += 1
            self._snapshot = self.script[self.step]
        return self._snapshot

    def set_snapshot(self, snapshot: EngineSnapshot) -> None:
        self._snapshot = snapshot

    def finish_stop(self) -> None:
        self._stopped.set()

    def names(self) -> list[str]:
        """The names of the calls made so far, in order."""
        return [c[0] for c in self.calls]

    # EngineHost
    def start(self) -> None:
        self.calls.append(("start",))

    def snapshot(self) -> EngineSnapshot:
        return self._snapshot

    def pause(self) -> None:
        self.calls.append(("pause",))

    def resume(self) -> None:
        self.calls.append(("resume",))

    def rescan(self) -> None:
        self.calls.append(("rescan",))

    def apply_config(self, config: Config) -> ReloadDiff:
        self.calls.append(("apply_config", config))
        self.applied.append(config)
        self.apply_threads.append(threading.current_thread())
        return self.diff

    def request_stop(self, force: bool = False) -> None:
        self.calls.append(("request_stop", force))
        if not self.hold_stop or force:
            self._stopped.set()

    def join(self, timeout: float | None = None) -> bool:
        self.joins += 1
        return self._stopped.wait(timeout)

    @property
    def alive(self) -> bool:
        return not self._stopped.is_set()

    def record_config_error(self, message: str, source: str | None) -> None:
        self.config_errors.append((message, source))

    def kill(self) -> None:
        self._stopped.set()


class FakeStore:
    """The read side of a `RecordStore`, in memory. Remembers which threads queried it."""

    def __init__(self, records: Sequence[ErrorRecord] = ()) -> None:
        self.records = list(records)  # newest first
        self.queries: list[dict[str, Any]] = []
        self.threads: list[threading.Thread] = []

    def errors(
        self, since: str | None = None, limit: int = 50, category: str | None = None, text: str | None = None
    ) -> list[ErrorRecord]:
        self.threads.append(threading.current_thread())
        self.queries.append({"since": since, "limit": limit, "category": category, "text": text})
        out = []
        for r in self.records:
            if category and str(r.category) != category:
                continue
            if text and not any(
                text.lower() in (v or "").lower() for v in (r.message, r.file_path, r.error_id)
            ):
                continue
            out.append(r)
        return out[:limit]

    def error(self, error_id: str) -> ErrorRecord | None:
        self.threads.append(threading.current_thread())
        return next((r for r in self.records if r.error_id == error_id), None)

    def report(self, since: str | None = None) -> Report:
        return Report(since)

    def close(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:  # the write side is not for the TUI
        raise AssertionError(f"the TUI must not call RecordStore.{name}")


def _wave(n: int, scale: float, phase: float) -> tuple[float, ...]:
    return tuple(
        round(scale * (1.2 + math.sin(i / 4 + phase) + 0.5 * math.sin(i / 1.7)), 2) for i in range(n)
    )


def sample_records() -> list[ErrorRecord]:
    """Three error records, newest first, matching `sample_snapshot().recent_errors`."""
    return [
        ErrorRecord(
            timestamp="2026-02-18T04:19:45.123Z",
            severity=Severity.ERROR,
            category=Category.FILE_ACCESS,
            component="Processor",
            operation="readFile",
            message="Permission denied: '/srv/incoming/reports/q1 [draft].txt'",
            name="PermissionDeniedError",
            code="EACCES",
            stack='Traceback (most recent call last):\n  File "processor.py", line 88, in read\nPermissionError: [Errno 13]',
            file_path="/srv/incoming/reports/q1 [draft].txt",
            watch_dir="/srv/incoming",
            rule="notes",
            context={"attempt": 3, "size": 2048},
            recovery_attempted=True,
            recovery_fallback="retry with backoff",
            recovery_successful=False,
            suggestion="Give the obtui user read access: chmod o+r '/srv/incoming/reports/q1 [draft].txt'",
            error_id="ERR-2026-02-18-041945-003",
        ),
        ErrorRecord(
            timestamp="2026-02-18T04:18:02.500Z",
            severity=Severity.WARNING,
            category=Category.EXTERNAL_TOOL,
            component="Command",
            operation="runCommand",
            message="pdftotext exited with status 3",
            code="exit 3",
            file_path="/srv/uploads/scan-0042.pdf",
            watch_dir="/srv/uploads",
            rule="pdfs",
            suggestion="Check that the PDF is not encrypted.",
            error_id="ERR-2026-02-18-041802-002",
        ),
        ErrorRecord(
            timestamp="2026-02-18T04:10:11.000Z",
            severity=Severity.WARNING,
            category=Category.PATTERN_MATCHING,
            component="Config",
            operation="compilePattern",
            message="Invalid pattern [*(bad in rule 'logs'",
            rule="logs",
            error_id="ERR-2026-02-18-041011-001",
        ),
    ]


def summary_of(r: ErrorRecord) -> ErrorSummary:
    return ErrorSummary(
        r.error_id, r.timestamp, str(r.severity), str(r.category), r.message, r.file_path, r.rule
    )


def sample_snapshot(**changes: Any) -> EngineSnapshot:
    """A busy, realistic snapshot (the figures of the design's console example)."""
    snap = EngineSnapshot(
        version=7,
        run_id="RUN-2026-02-18-040428",
        pid=4242,
        state="running",
        started_at=STARTED,
        taken_at=NOW,
        config_path="/home/ada/.config/obtui/config.toml",
        rules=("notes", "pdfs", "logs"),
        buckets=(
            BucketState("/srv/incoming", "watching"),
            BucketState("/srv/uploads", "watching"),
            BucketState(
                "/mnt/nas/drop",
                "polling",
                polling=True,
                message="inotify unavailable on NFS: polling every 5 s",
            ),
        ),
        metrics=Metrics(
            events_received=1234,
            events_processed=1200,
            event_rate=1.29,
            files_processed=1150,
            successful=1120,
            failed=30,
            skipped_unchanged=12,
            bytes_processed=1_234_567,
            file_rate=0.5,
            duration_min_ms=3.0,
            duration_avg_ms=45.0,
            duration_p50_ms=38.0,
            duration_p95_ms=120.0,
            duration_max_ms=2400.0,
            queue_depth=7,
            uptime_s=932.0,
            overflows=1,
            rescans=2,
            event_rate_history=_wave(120, 1.0, 0.0),
            file_rate_history=_wave(120, 0.4, 1.3),
        ),
        queue=QueueStatus(settling=2, pending=5, processing=2, waiting=1, completed=1143, failed=30),
        queue_items=(
            QueueItem(
                "/srv/incoming/a.txt",
                "/srv/incoming/a.txt",
                "/srv/incoming",
                "a.txt",
                "notes",
                "processing",
                NOW - 3,
            ),
            QueueItem(
                "/srv/incoming/reports/2026/february/very-long-report-name-final-v2.md",
                "/srv/incoming/reports/2026/february/very-long-report-name-final-v2.md",
                "/srv/incoming",
                "reports/2026/february/very-long-report-name-final-v2.md",
                "notes",
                "pending",
                NOW - 75,
            ),
            QueueItem(
                "/srv/uploads/[red]x[/red].txt",
                "/srv/uploads/[red]x[/red].txt",
                "/srv/uploads",
                "[red]x[/red].txt",
                "notes",
                "settling",
                NOW - 1,
            ),
            QueueItem(
                "/srv/uploads/scan-0043.pdf",
                "/srv/uploads/scan-0043.pdf",
                "/srv/uploads",
                "scan-0043.pdf",
                "pdfs",
                "waiting",
                NOW - 3725,
                attempt=2,
            ),
        ),
        breakers=(
            BreakerState("notes", "closed"),
            BreakerState("pdfs", "half-open", failures=4, opened_at=NOW - 65, waiting=1),
        ),
        recent_errors=tuple(summary_of(r) for r in sample_records()),
        directories=(
            DirReport(
                "/srv/incoming", 812, 800, 12, 41.0, 900_000, "/srv/incoming/a.txt", "2026-02-18T04:19:57Z"
            ),
            DirReport(
                "/srv/incoming/reports", 120, 110, 10, 77.5, 250_000, "/srv/incoming/reports/q1 [draft].txt"
            ),
            DirReport("/srv/uploads", 218, 210, 8, 52.3, 84_567, "/srv/uploads/scan-0042.pdf"),
        ),
        last_reload="config reloaded at 04:12:09: rules changed: pdfs",
    )
    return dataclasses.replace(snap, **changes) if changes else snap


def sample_cluster(**changes: Any) -> ClusterView:
    """Three hosts (this one `alpha`, one gone), a lagging queue and two dead letters."""
    view = ClusterView(
        host="alpha",
        redis="redis://:***@10.0.0.5:6379/0",
        hosts=(
            ClusterHost("alpha", True, NOW - 1.0, in_flight=2, done=812),
            ClusterHost("bravo", True, NOW - 3.0, in_flight=4, done=1_204),
            ClusterHost("charlie", False, NOW - 95.0, in_flight=0, done=377),
        ),
        stream_length=2_430,
        lag=37,
        pending=6,
        dead=2,
        taken_at=NOW - 0.5,
    )
    return dataclasses.replace(view, **changes) if changes else view
