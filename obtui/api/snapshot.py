"""Immutable views of the engine's state, safe to hand to another thread.

The engine publishes a new `EngineSnapshot` a few times a second (`Engine.snapshot()`); the TUI and
the headless status line read it on a timer and diff it into their views. Nothing here refers to
live engine objects, and every timestamp is a wall-clock float (seconds since the epoch) so that
tests can freeze them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

EngineState = Literal["starting", "running", "paused", "stopping", "stopped"]
BucketStateName = Literal["watching", "polling", "missing", "error", "stopped"]
ItemState = Literal["settling", "pending", "processing", "waiting", "retrying"]
BreakerStateName = Literal["closed", "open", "half-open"]


@dataclass(frozen=True)
class Figures:
    """The outcome figures, defined once for every view: the headless status line, `--status`,
    `--metrics`, `--report`, the dashboard and RUN_SUMMARY.md all show these, derived from here.

    - *processed*: files with an outcome, `successful + failed`.
    - *successful* / *failed*: files whose latest outcome is a success / a failure. A file that
      failed and later gets another outcome (an empty file that got its content and succeeded)
      stops counting as failed. Files still settling, queued, retrying or waiting on an open
      circuit breaker have no outcome yet: they are in none of these.
    - *error records*: every error record, warnings and notes included (a record is not a file).

    Only the latest outcome of a file counts, a success as much as a failure: a file that
    succeeded, was edited and failed is one failed file; one processed again is one file. A file
    is its path while it stays there (a moved or deleted one is gone: a new file at its name is a
    new file). Over a window (a run, `--report --since`), a file counts when its latest outcome
    falls in the window, by that outcome. See `obtui/tracking/latest.py`.
    """

    successful: int = 0
    failed: int = 0
    error_records: int = 0

    @property
    def processed(self) -> int:
        return self.successful + self.failed

    @property
    def success_rate(self) -> float | None:
        """Percent of processed files that succeeded; None until a file has an outcome."""
        return 100.0 * self.successful / self.processed if self.processed else None

    @property
    def failure_rate(self) -> float | None:
        """Percent of processed files that failed; None until a file has an outcome."""
        return 100.0 * self.failed / self.processed if self.processed else None

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape, the same in `--status`, `--metrics` and `--report`."""
        rate = self.success_rate
        fail = self.failure_rate
        return {
            "processed": self.processed,
            "successful": self.successful,
            "failed": self.failed,
            "errorRecords": self.error_records,
            "successRate": None if rate is None else round(rate, 1),
            "failureRate": None if fail is None else round(fail, 1),
        }

    def line(self) -> str:
        """`processed 24 · successful 21 · failed 3`, the words of the status line and the logs."""
        return f"processed {self.processed:,} · successful {self.successful:,} · failed {self.failed:,}"

    @classmethod
    def of_json(cls, d: dict[str, Any] | None) -> Figures:
        """From a `Metrics` as JSON (status.json, metrics.jsonl), older ones included."""
        d = d or {}
        return cls(int(d.get("successful") or 0), int(d.get("failed") or 0), int(d.get("error_records") or 0))


def percent(rate: float | None) -> str:
    """A rate of `Figures` as text: `97.4%`, or `–` while there is none."""
    return "–" if rate is None else f"{rate:.1f}%"


@dataclass(frozen=True)
class Metrics:
    """Counters and gauges since the engine started."""

    events_received: int = 0
    events_processed: int = 0  # events that made a file ready (after settling)
    event_rate: float = 0.0  # events received per second, over the last 10 s
    files_processed: int = 0  # successful + failed (see `Figures`)
    successful: int = 0  # files of this run whose latest outcome is a success
    failed: int = 0  # files of this run whose latest outcome is a failure
    error_records: int = 0  # error records of this run, warnings included
    skipped_unchanged: int = 0  # ready files whose content was already on record
    bytes_processed: int = 0
    file_rate: float = 0.0  # files processed per second, over the last 10 s
    duration_min_ms: float = 0.0
    duration_avg_ms: float = 0.0
    duration_p50_ms: float = 0.0
    duration_p95_ms: float = 0.0
    duration_max_ms: float = 0.0
    queue_depth: int = 0
    uptime_s: float = 0.0
    overflows: int = 0  # watcher overflows / errors that forced a rescan
    rescans: int = 0
    # One sample per second, oldest first, at most 300: for sparklines.
    event_rate_history: tuple[float, ...] = ()
    file_rate_history: tuple[float, ...] = ()

    @property
    def figures(self) -> Figures:
        """This run's outcome figures."""
        return Figures(self.successful, self.failed, self.error_records)


@dataclass(frozen=True)
class QueueStatus:
    settling: int = 0  # seen, waiting to be complete (debounce / open for writing)
    pending: int = 0  # ready, in the queue
    processing: int = 0
    waiting: int = 0  # held back by an open circuit breaker or a retry backoff
    completed: int = 0
    failed: int = 0
    backlog: bool = False  # the queue was full: the excess is left to the next reconciliation scan


@dataclass(frozen=True)
class QueueItem:
    """One file the engine knows about but has not finished."""

    key: str  # stable id for table rows: the absolute path
    path: str
    bucket: str
    rel: str  # path relative to the bucket root
    rule: str | None
    state: ItemState
    since: float  # wall time it entered this state
    attempt: int = 0


@dataclass(frozen=True)
class BucketState:
    path: str
    state: BucketStateName
    recursive: bool = True
    polling: bool = False
    message: str | None = None  # e.g. why it fell back to polling, or that it is missing


@dataclass(frozen=True)
class BreakerState:
    rule: str
    state: BreakerStateName
    failures: int = 0
    opened_at: float | None = None
    waiting: int = 0  # files held back by this breaker


@dataclass(frozen=True)
class ScanProgress:
    bucket: str
    scanned: int = 0
    queued: int = 0
    running: bool = True
    reason: str = "start"  # start | periodic | overflow | manual | backlog | bucket-added


@dataclass(frozen=True)
class ErrorSummary:
    error_id: str
    timestamp: str
    severity: str
    category: str
    message: str
    file_path: str | None = None
    rule: str | None = None


@dataclass(frozen=True)
class DirReport:
    """Per-directory success report: the same figures as `obtui --report`."""

    directory: str
    total: int = 0
    successful: int = 0
    failed: int = 0
    avg_duration_ms: float = 0.0
    bytes: int = 0
    last_file: str | None = None
    last_at: str | None = None

    @property
    def figures(self) -> Figures:
        """The directory's outcome figures (`total` is its processed files)."""
        return Figures(self.successful, self.failed)


@dataclass(frozen=True)
class ClusterHost:
    """One host of the cluster as Redis knows it (the `hosts` of `obtui --status --cluster`)."""

    name: str
    alive: bool = False  # its heartbeat key has not expired
    last_heartbeat: float | None = None  # wall time of its last heartbeat (Redis' copy of it)
    in_flight: int = 0  # files running there now (0 when gone)
    done: int = 0  # outcomes it recorded since it started


@dataclass(frozen=True)
class ClusterView:
    """The cluster as seen from Redis a moment ago (`obtui --status --cluster`), gathered by the
    engine every ~1.5 s off its loop. `EngineSnapshot.cluster` is None outside cluster mode."""

    host: str  # this host's name in the cluster
    redis: str  # the Redis URL, without its password
    hosts: tuple[ClusterHost, ...] = ()
    stream_length: int = 0  # entries in the buckets' job streams
    lag: int = 0  # entries no host has read yet
    pending: int = 0  # entries read by a host and not acknowledged yet
    dead: int = 0  # entries in the dead-letter streams
    taken_at: float = 0.0  # wall time of the last successful read (0: none yet)
    error: str | None = None  # why the last read failed (Redis unreachable), else None

    @property
    def alive(self) -> int:
        """How many hosts are alive."""
        return sum(1 for h in self.hosts if h.alive)


@dataclass(frozen=True)
class EngineSnapshot:
    """Everything a view needs, at one instant. `version` grows whenever anything changed."""

    version: int = 0
    run_id: str = ""
    pid: int = 0
    state: EngineState = "starting"
    started_at: float = 0.0
    taken_at: float = 0.0
    config_path: str | None = None
    rules: tuple[str, ...] = ()
    buckets: tuple[BucketState, ...] = ()
    metrics: Metrics = field(default_factory=Metrics)
    queue: QueueStatus = field(default_factory=QueueStatus)
    queue_items: tuple[QueueItem, ...] = ()  # at most 500, oldest first
    scans: tuple[ScanProgress, ...] = ()
    breakers: tuple[BreakerState, ...] = ()
    recent_errors: tuple[ErrorSummary, ...] = ()  # newest first, at most 50
    directories: tuple[DirReport, ...] = ()
    last_reload: str | None = None  # human sentence about the last config reload
    cluster: ClusterView | None = None  # cluster mode only: the hosts, the queue's lag, dead letters

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["figures"] = self.metrics.figures.to_json()
        if self.cluster is not None:
            d["cluster"]["alive"] = self.cluster.alive
        return d
