"""Saving the config from the editor, following edits made to the file outside the app, and
showing what either came to.

`ConfigSync.save` and `ConfigSync.check` run in thread workers (file I/O and `apply_config` may
block), serialised by one lock so that the follower never mistakes the editor's own save for an
outside edit; `show_outcome` runs on the app's thread with what they returned. No Textual imports.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from obtui.api.control import ReloadDiff
from obtui.api.host import EngineHost
from obtui.config.errors import ConfigError
from obtui.config.loader import parse_config_text
from obtui.config.locations import default_config_path
from obtui.config.model import Config

if TYPE_CHECKING:
    from obtui.tui.app import ObtuiApp


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
    return Path(default_config_path())


def parse(text: str, source: Path | None) -> Config:
    """Validate config text (raises `obtui.config.errors.ConfigError`)."""
    return parse_config_text(text, source)


def problem_of(exc: ConfigError) -> ProblemInfo:
    """The first problem of a `ConfigError`, with its position when known."""
    if exc.problems:
        p = exc.problems[0]
        return ProblemInfo(str(p), p.line, p.col)
    return ProblemInfo(str(exc) or type(exc).__name__)


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

    def __init__(self, host: EngineHost, path: Path | None, cli_buckets: list[Path]) -> None:
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
            if path is None or sig == self._seen:
                return None
            self._seen = sig
            if sig is None:  # deleted while running: on record at once, the running rules stay
                from obtui.config.loader import config_gone_message

                message = config_gone_message(path)
                self.host.record_config_error(message, str(path))
                return ConfigOutcome("file", path, error=message)
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                return ConfigOutcome("file", path, error=f"could not read {path}: {exc}")
            try:
                config = parse(text, path)
            except ConfigError as exc:
                # An invalid outside edit goes on record, as it does in headless mode.
                self.host.record_config_error(str(exc), str(path))
                return ConfigOutcome("file", path, text, problem=problem_of(exc))
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


def show_outcome(app: ObtuiApp, o: ConfigOutcome) -> None:
    """Adopt an applied config, update an open editor, and tell the user (never as markup)."""
    editor = app.open_editor()
    if o.config is not None and o.error is None:
        old_theme = app.config.ui.theme
        app.config = app.config_sync.effective(o.config)
        if o.config.ui.theme != old_theme:
            app.select_theme(o.config.ui.theme)
    if o.origin == "editor":
        if o.config is not None:  # written to the file (even if the engine then refused it)
            app.config_path = o.path
            if editor is not None and o.text is not None:
                editor.mark_saved(o.text, o.path)
        if o.diff is not None:
            app.notify(o.diff.summary(), title=f"Saved and applied {o.path.name}", markup=False)
    else:
        if editor is not None and o.text is not None:
            editor.file_changed(o.text, o.problem)
        if o.diff is not None:
            app.notify(o.diff.summary(), title=f"{o.path.name} changed: applied", markup=False)
    if o.problem is not None:
        app.notify(
            o.problem.text,
            title="Config change rejected; the previous rules stay",
            severity="error",
            markup=False,
        )
    if o.error is not None:
        app.notify(o.error, title="Config not applied", severity="error", markup=False)
