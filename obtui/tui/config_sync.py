"""Saving the config from the editor and following edits made to the file outside the app.

Both run in thread workers (file I/O and `apply_config` may block), serialised by one lock so that
the follower never mistakes the editor's own save for an outside edit. No Textual imports here.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from obtui.api.control import EngineControl, ReloadDiff
from obtui.config.model import Config


@dataclass(frozen=True)
class ProblemInfo:
    """The first problem of an invalid config, as shown to the user."""

    text: str
    line: int | None = None  # 1-based, as in `obtui.config.errors.Problem`
    col: int | None = None  # 1-based


@dataclass(frozen=True)
class ConfigOutcome:
    """What a save or a followed edit came to. Exactly one of diff / problem / error is set."""

    origin: Literal["editor", "file"]
    path: Path
    text: str | None = None
    config: Config | None = None
    diff: ReloadDiff | None = None
    problem: ProblemInfo | None = None
    error: str | None = None


def default_config_file() -> Path:
    """Where a new config file goes: `obtui.config.locations.default_config_path()`."""
    try:
        from obtui.config.locations import default_config_path
    except ImportError:
        import platformdirs

        return Path(platformdirs.user_config_dir("obtui")) / "config.toml"
    return Path(default_config_path())


def parse(text: str, source: Path | None) -> Config:
    """Validate config text (raises `obtui.config.errors.ConfigError`)."""
    from obtui.config.loader import parse_config_text

    return parse_config_text(text, source)


def problem_of(exc: Exception) -> ProblemInfo:
    """The first problem of a `ConfigError` (or any exception) with its position when known."""
    problems = list(getattr(exc, "problems", None) or [])
    if problems:
        p = problems[0]
        return ProblemInfo(str(p), getattr(p, "line", None), getattr(p, "col", None))
    return ProblemInfo(str(exc) or type(exc).__name__)


def config_errors() -> tuple[type[Exception], ...]:
    """The exception types that mean 'invalid config' (empty until the loader exists)."""
    try:
        from obtui.config.errors import ConfigError
    except ImportError:
        return ()
    return (ConfigError,)


def file_signature(path: Path | None) -> tuple[int, int] | None:
    """(mtime_ns, size) of `path`, or None when it does not exist."""
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


class ConfigSync:
    """Owns the path of the config in use and the last version of it that was seen."""

    def __init__(self, host: EngineControl, path: Path | None, cli_buckets: list[Path]) -> None:
        self.host = host
        self.path = path
        self.cli_buckets = list(cli_buckets)
        self._lock = threading.Lock()
        self._seen = file_signature(path)

    def effective(self, config: Config) -> Config:
        """The file's config plus the folders named on the command line."""
        return config.with_buckets(self.cli_buckets) if self.cli_buckets else config

    def save(self, text: str, config: Config, path: Path) -> ConfigOutcome:
        """Write `text` exactly as typed, then apply `config`. Runs in a thread worker."""
        with self._lock:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "w", encoding="utf-8", newline="") as f:
                    f.write(text)
            except OSError as exc:
                return ConfigOutcome("editor", path, text, error=f"could not save {path}: {exc}")
            self.path = path
            self._seen = file_signature(path)
            return self._apply("editor", path, text, config)

    def check(self) -> ConfigOutcome | None:
        """Apply the file if it changed since last seen. Runs in a thread worker."""
        if not self._lock.acquire(blocking=False):
            return None  # a save is under way; look again next time
        try:
            path = self.path
            sig = file_signature(path)
            if path is None or sig is None or sig == self._seen:
                return None
            self._seen = sig
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                return ConfigOutcome("file", path, error=f"could not read {path}: {exc}")
            try:
                config = parse(text, path)
            except config_errors() as exc:
                # An invalid outside edit goes on record, as it does in headless mode.
                record = getattr(self.host, "record_config_error", None)
                if record is not None:
                    record(str(exc), str(path))
                return ConfigOutcome("file", path, text, problem=problem_of(exc))
            except ImportError as exc:
                return ConfigOutcome("file", path, text, error=f"config validation unavailable: {exc}")
            return self._apply("file", path, text, config)
        finally:
            self._lock.release()

    def _apply(
        self, origin: Literal["editor", "file"], path: Path, text: str, config: Config
    ) -> ConfigOutcome:
        try:
            diff = self.host.apply_config(self.effective(config))
        except Exception as exc:  # the engine refused it; the old rules stay
            return ConfigOutcome(origin, path, text, config, error=f"the engine did not apply it: {exc}")
        return ConfigOutcome(origin, path, text, config, diff=diff)
