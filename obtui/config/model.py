"""Typed, frozen configuration objects.

These are what the rest of obtui sees: the loader (`obtui.config.loader`) turns a TOML file into
one `Config` and is the only place that knows about TOML, line numbers and defaults-from-text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

ActionKind = Literal["note", "command"]
PostKind = Literal["keep", "delete", "move"]

DEFAULT_GREP = "TODO|FIXME"

# The `{placeholders}` a command rule's argv may use; other text in braces is passed through as is.
COMMAND_PLACEHOLDERS: tuple[str, ...] = (
    "path",
    "name",
    "stem",
    "suffix",
    "dir",
    "bucket",
    "output_dir",
    "rel",
)

# Names that never trigger processing, whatever the rules say: our own outputs and state, hidden
# files and the temporary names that browsers, rsync, Syncthing and office suites write first.
DEFAULT_IGNORES: tuple[str, ...] = (
    "*.obs.md",
    "*.result.json",
    ".*",
    "*.tmp",
    "*.temp",
    "*.part",
    "*.partial",
    "*.crdownload",
    "*.download",
    "*.swp",
    "*~",
    "~$*",
)


@dataclass(frozen=True)
class PostAction:
    """What happens to the source file after processing: keep it, delete it or move it to a folder.

    `target` is the folder for `move` as written in the config (relative to the bucket, or absolute).
    """

    kind: PostKind = "keep"
    target: str | None = None

    def __str__(self) -> str:
        return f"move:{self.target}" if self.kind == "move" else self.kind


@dataclass(frozen=True)
class RunnerConfig:
    """The `[runner]` table: how the engine watches, queues and retries."""

    concurrency: int = 4
    note_processes: int = 2  # processes that write notes in a burst (0: the engine's threads)
    debounce_ms: int = 500
    max_delay_ms: int = 10_000
    rescan_seconds: float = 60.0
    poll_seconds: float = 0.0
    max_file_size: int = 512_000_000
    max_queue_size: int = 10_000
    shutdown_grace_seconds: float = 10.0
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 60.0
    breaker_threshold: int = 5
    breaker_reset_seconds: float = 60.0
    metrics_interval_seconds: float = 300.0
    status_interval_seconds: float = 5.0
    ignore: tuple[str, ...] = ()


@dataclass(frozen=True)
class BucketConfig:
    """One watched folder. `path` is absolute (resolved against the config file or the CWD)."""

    path: Path
    recursive: bool = True
    poll_seconds: float | None = None  # per-bucket override of runner.poll_seconds
    line: int | None = None  # line of the [[buckets]] entry, None for CLI buckets
    id: str | None = None  # cluster mode: the bucket's name cluster-wide (default: the folder name)

    @property
    def cluster_id(self) -> str:
        """The bucket's cluster-wide name: `id`, else the folder's name."""
        return self.id or self.path.name


@dataclass(frozen=True)
class RuleConfig:
    """One `[[rules]]` entry. The first rule whose patterns match a file (and whose ignores don't) wins.

    Patterns and ignores use gitignore syntax relative to the bucket root: `*.txt` matches at any
    depth, `docs/**/*.rst` is anchored, `drafts/` matches a folder and everything below it.
    """

    name: str
    patterns: tuple[str, ...] = ("*",)
    ignore: tuple[str, ...] = ()
    gitignore: bool = False
    action: ActionKind = "note"
    grep: str | None = DEFAULT_GREP
    tags: tuple[str, ...] = ()
    output_dir: str | None = None  # None: next to the source file; relative: to the bucket root
    command: tuple[str, ...] = ()
    timeout: float = 300.0
    retries: int = 2
    on_success: PostAction = field(default_factory=PostAction)
    on_failure: PostAction = field(default_factory=PostAction)
    result_json: bool = False
    folder_summary: bool = False
    buckets: tuple[str, ...] = ()  # restrict to these bucket paths (as written); empty: all buckets
    line: int | None = None  # line of the [[rules]] entry in the config file


@dataclass(frozen=True)
class ClusterConfig:
    """The `[cluster]` table: several hosts on one shared bucket, coordinated by Redis."""

    redis: str  # redis://host:port/db, rediss://..., unix:///path.sock
    host: str  # this host's name in the cluster (default: the hostname)
    lease_seconds: float = 30.0  # a host that stops renewing for this long loses its files
    max_deliveries: int = 5  # deliveries without an outcome before the dead-letter stream
    line: int | None = None

    @property
    def enabled(self) -> bool:
        """Always true: a `[cluster]` table (or --cluster URL) is cluster mode. The per-bucket
        runner lock (one runner per bucket) checks this to let cluster hosts share a bucket."""
        return True


@dataclass(frozen=True)
class UIConfig:
    """The `[ui]` table, read only by the TUI."""

    theme: str = "obtui-dark"


@dataclass(frozen=True)
class StoreConfig:
    """The `[store]` table: how long success and error records are kept."""

    keep: float | None = None  # seconds; None keeps every record (the manifest is always kept)


@dataclass(frozen=True)
class MetricsConfig:
    """The `[metrics]` table: `listen` is "HOST:PORT" for Prometheus' /metrics, None when off.
    Read once at start."""

    listen: str | None = None


def default_rules() -> tuple[RuleConfig, ...]:
    """The rules used when the config defines none: a note for every file."""
    return (RuleConfig(name="notes", patterns=("*",), action="note"),)


@dataclass(frozen=True)
class Config:
    """The whole effective configuration."""

    runner: RunnerConfig = field(default_factory=RunnerConfig)
    buckets: tuple[BucketConfig, ...] = ()
    rules: tuple[RuleConfig, ...] = field(default_factory=default_rules)
    ui: UIConfig = field(default_factory=UIConfig)
    source: Path | None = None  # the file it was loaded from, None for built-in defaults
    store: StoreConfig = field(default_factory=StoreConfig)
    cluster: ClusterConfig | None = None  # cluster mode when set
    metrics: MetricsConfig = field(default_factory=MetricsConfig)

    def with_buckets(self, extra: list[Path]) -> Config:
        """Return a copy with CLI directories added (resolved, de-duplicated, config order kept)."""
        seen = {b.path for b in self.buckets}
        added = list(self.buckets)
        for p in extra:
            rp = Path(p).expanduser().resolve()
            if rp not in seen:
                seen.add(rp)
                added.append(BucketConfig(path=rp))
        return Config(
            self.runner,
            tuple(added),
            self.rules,
            self.ui,
            self.source,
            self.store,
            self.cluster,
            self.metrics,
        )
