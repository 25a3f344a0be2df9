"""The typed kinds that flow through the pipeline, in one place: filesystem event kinds, why a
file became ready, why a job was queued, why a scan ran, and the `Job` itself.

Engine states live in `obtui.api.snapshot.EngineState` (snapshots carry them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

# What the watcher reports (`RawEvent.kind`). `root_deleted`: the bucket folder itself went away.
EventKind = Literal[
    "created",
    "modified",
    "closed",
    "moved_in",
    "deleted",
    "dir_created",
    "dir_moved_in",
    "dir_deleted",
    "root_deleted",
]
# What the settler takes (`Settler.feed`): the file events, without the folder ones.
SettleKind = Literal["created", "modified", "closed", "moved_in", "deleted"]
# Why the settler decided a file is complete.
ReadyReason = Literal["closed", "moved_in", "quiet", "max_delay"]
# Why a job is in the queue: it became ready, a scan found it, a crash left its post-action
# undone, its retry backoff ended, a circuit breaker let it through as a trial, or (cluster
# mode) Redis handed it to this host.
JobReason = Literal[ReadyReason, "scan", "resume", "retry", "breaker", "cluster"]
# Why a reconciliation scan ran.
ScanReason = Literal["start", "manual", "periodic", "overflow", "backlog", "reload", "bucket-added", "again"]


@dataclass
class Job:
    """One file (or dropped folder) to process."""

    path: str
    bucket: str
    rel: str
    reason: JobReason
    queued_at: float = field(default_factory=time.monotonic)
    since_wall: float = field(default_factory=time.time)
    attempt: int = 1
    is_dir: bool = False
    rule: str | None = None  # filled by the processor for display
    # Extra environment for command actions (cluster mode: OBTUI_JOB_KEY, OBTUI_ATTEMPT).
    env: dict[str, str] = field(default_factory=dict)
