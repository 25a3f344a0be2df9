"""The messages between a dashboard and its engine process, one frozen dataclass per kind.

They travel pickled over a socket pair (`obtui.hosting.process.Link`, length-prefixed frames by
`multiprocessing.connection`); both ends read them with `match`. Both ends are the same program,
started by the same user: pickle crosses no trust boundary here.

    parent -> engine: Start first; then Pause, Resume, Rescan, Stop, Apply, ConfigRejected
    engine -> parent: SnapshotMsg whenever the snapshot's version changes (at most ~10x/s),
                      Reply to each Apply, Exit last, just before the process exits
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from obtui.api.control import ReloadDiff
from obtui.api.snapshot import EngineSnapshot
from obtui.config.model import Config


@dataclass(frozen=True)
class StartRequest:
    """Everything an engine process needs to start."""

    config: Config
    state_dir: Path
    cli_buckets: tuple[Path, ...] = ()


# ---- parent -> engine ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """The first message: start an engine with this request."""

    request: StartRequest


@dataclass(frozen=True)
class Pause:
    """Stop taking new work from the queue."""


@dataclass(frozen=True)
class Resume:
    """Take work from the queue again."""


@dataclass(frozen=True)
class Rescan:
    """Reconcile every bucket with a full scan now."""


@dataclass(frozen=True)
class Stop:
    """Graceful stop; `force` cancels in-flight work."""

    force: bool = False


@dataclass(frozen=True)
class Apply:
    """Apply this config; the engine answers with a `Reply` carrying the same `request_id`."""

    request_id: int
    config: Config


@dataclass(frozen=True)
class ConfigRejected:
    """Put a rejected config edit on record (Configuration category)."""

    message: str
    source: str | None


ToEngine = Start | Pause | Resume | Rescan | Stop | Apply | ConfigRejected


# ---- engine -> parent ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotMsg:
    """The engine's newest snapshot."""

    snapshot: EngineSnapshot


@dataclass(frozen=True)
class Reply:
    """The answer to `Apply`: what changed, or why it was not applied (exactly one is set)."""

    request_id: int
    diff: ReloadDiff | None = None
    error: str | None = None


@dataclass(frozen=True)
class Exit:
    """The last message: how the engine ended (`error` is None after a clean stop)."""

    code: int
    error: BaseException | None = None


ToParent = SnapshotMsg | Reply | Exit
