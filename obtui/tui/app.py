"""`ObtuiApp`, the dashboard application, and `make_app`, the one factory the CLI and tests use."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import Worker, get_current_worker

from obtui.api.host import EngineHost
from obtui.api.snapshot import EngineSnapshot, ErrorSummary
from obtui.config.model import Config
from obtui.tracking.interfaces import RecordStore
from obtui.tracking.requests import RetryRequester
from obtui.tui.config_sync import ConfigOutcome, ConfigSync, default_config_file, show_outcome
from obtui.tui.palette import obtui_commands
from obtui.tui.screens.config_editor import ConfigEditorScreen
from obtui.tui.screens.confirm import ConfirmScreen
from obtui.tui.screens.dashboard import DashboardScreen
from obtui.tui.screens.error_detail import ErrorDetailScreen
from obtui.tui.screens.errors import ErrorsScreen
from obtui.tui.screens.help import HelpScreen
from obtui.tui.screens.status import StatusScreen
from obtui.tui.themes import FALLBACK_THEME, default_theme_dirs, load_themes

FULL_GC_EVERY = 1000  # generation-1 collections between two full ones (Python's default: 10)


class ObtuiApp(App[None]):
    """The dashboard. Talks to the engine only through `host` and to the records through `store`
    (from thread workers); build it with `make_app`."""

    TITLE = "obtui"
    CSS_PATH = [
        "styles/app.tcss",
        "styles/dashboard.tcss",
        "styles/screens.tcss",
        "styles/config_editor.tcss",
    ]
    BINDINGS = [
        Binding("s", "show_status", "Status", id="obtui.status"),
        Binding("e", "show_errors", "Errors", id="obtui.errors"),
        Binding("c", "edit_config", "Config", id="obtui.config"),
        Binding("p", "pause", "Pause", id="obtui.pause"),
        Binding("p", "resume", "Resume", id="obtui.resume"),
        Binding("r", "rescan", "Rescan", id="obtui.rescan"),
        Binding("question_mark", "show_help", "Help", id="obtui.help"),
        Binding("q", "quit", "Quit", id="obtui.quit"),
        Binding("escape", "main_screen", "Main screen", show=False, id="obtui.main"),
    ]

    class EngineStopped(Message):
        """The engine thread ended after a stop request (posted from a worker thread)."""

    class ConfigDone(Message):
        """A save from the editor or a followed file edit finished (posted from a worker thread)."""

        def __init__(self, outcome: ConfigOutcome) -> None:
            super().__init__()
            self.outcome = outcome

    def __init__(
        self,
        host: EngineHost,
        store: RecordStore | None,
        config: Config,
        *,
        config_path: Path | None,
        default_config_path: Path,
        poll_interval: float | None,
        config_poll_interval: float | None,
        clock: Callable[[], float],
        themes_dirs: list[Path],
        start_engine: bool,
        cli_buckets: Sequence[Path],
    ) -> None:
        super().__init__()
        self.host = host
        self.store = store
        self.config = config
        self.config_path = config_path
        self.default_config_path = default_config_path
        self.poll_interval = poll_interval
        self.config_poll_interval = config_poll_interval
        self.clock = clock
        self.themes_dirs = themes_dirs
        self.start_engine = start_engine
        self.freeze_gc = False  # `run_tui` sets it; tests, which build many apps, leave it off
        self.retries: RetryRequester | None = None  # `run_tui` sets it: the errors screens' retry keys
        self.paused = False
        self.stopping = False
        self.forced = False  # quit was forced (a second q): in-flight work is cancelled
        self.engine_ended = False  # the engine thread ended without being asked to
        self._engine_started = False
        self._last_state: str | None = None
        self._last_snapshot: EngineSnapshot | None = None
        self._ui_ready = False
        self._startup_notes: list[tuple[str, str, SeverityLevel]] = []
        self.config_sync = ConfigSync(host, config_path, list(cli_buckets))
        self._follow_worker: Worker[None] | None = None
        themes, errors = load_themes(themes_dirs)
        for theme in themes:
            self.register_theme(theme)
        if errors:
            self._note("Some themes could not be loaded", "\n".join(errors), "warning")
        self.select_theme(config.ui.theme)

    # ---- lifecycle ------------------------------------------------------------------------------

    def get_default_screen(self) -> Screen[None]:
        return DashboardScreen()

    def on_mount(self) -> None:
        self._ui_ready = True
        if self.freeze_gc:
            self.call_after_refresh(self._freeze_gc)
        for title, message, severity in self._startup_notes:
            self.notify(message, title=title, severity=severity, markup=False, timeout=10)
        self._startup_notes.clear()
        if self.start_engine:
            self.host.start()
            self._engine_started = True
            self.set_interval(1.0, self._check_engine_alive, name="engine-alive")
        if self.config_poll_interval:
            self.set_interval(self.config_poll_interval, self._check_config_file, name="config-follow")

    @staticmethod
    def _freeze_gc() -> None:
        # A full (generation 2) collection stops the UI for 50-250 ms under a burst, long enough
        # for a key to wait it out. Everything alive after the first frame (modules, CSS, the
        # dashboard's widgets) lives as long as the app: freeze it out of the cyclic GC, and run
        # full collections 100x less often. Young garbage is still collected as usual.
        gc.collect()
        gc.freeze()
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, FULL_GC_EVERY)

    def on_unmount(self) -> None:
        if self._engine_started and not self.stopping:
            self.host.request_stop()  # the app went away some other way: never leave the engine running

    def select_theme(self, name: str) -> None:
        """Use theme `name`; an unknown name falls back to obtui-dark, with a notification."""
        if name in self.available_themes:
            self.theme = name
            return
        fallback = FALLBACK_THEME if FALLBACK_THEME in self.available_themes else "textual-dark"
        self._note("Unknown theme", f"No theme named {name!r}; using {fallback}.", "warning")
        self.theme = fallback

    def _note(self, title: str, message: str, severity: SeverityLevel) -> None:
        # Notifications need a running app; keep the ones from __init__ for on_mount.
        if self._ui_ready:
            self.notify(message, title=title, severity=severity, markup=False, timeout=10)
        else:
            self._startup_notes.append((title, message, severity))

    def _check_engine_alive(self) -> None:
        # join(0) never blocks: it only asks whether the engine thread has ended on its own.
        if self.stopping or self.engine_ended or not self.host.join(0):
            return
        self.engine_ended = True
        self._render_header()
        error = self.host.error
        self.notify(
            f"The engine stopped{f': {error}' if error else ''}. Nothing is processed; q quits.",
            title="Engine stopped",
            severity="error",
            timeout=30,
            markup=False,
        )

    # ---- snapshot -> header ---------------------------------------------------------------------

    def observe_snapshot(self, snap: EngineSnapshot) -> None:
        """Called by the polling screens: header line, alert classes, paused state."""
        self._last_snapshot = snap
        if snap.state != self._last_state:
            self._last_state = snap.state
            if snap.state in ("running", "paused") and self.paused != (snap.state == "paused"):
                self.paused = snap.state == "paused"
                self.refresh_bindings()
        self._render_header()

    def _render_header(self) -> None:
        snap = self._last_snapshot
        open_breakers = [b.rule for b in snap.breakers if b.state == "open"] if snap else []
        if self.stopping:
            state = "stopping… in-flight work finishing"
        elif self.engine_ended:
            state = "engine stopped"
        elif snap is None:
            state = "starting"
        else:
            state = "paused" if snap.state == "paused" else snap.state
        parts = [snap.run_id if snap and snap.run_id else "obtui", state]
        if open_breakers:
            parts.append(f"breaker open: {', '.join(open_breakers)}")
        self.sub_title = " · ".join(parts)
        self.set_class(self.stopping or self.engine_ended, "-stopping")
        self.set_class(bool(open_breakers), "-breaker-open")
        self.set_class(bool(snap and snap.state == "paused"), "-paused")

    # ---- actions --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pause":
            return not self.paused
        if action == "resume":
            return self.paused
        return True

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from (c for c in super().get_system_commands(screen) if c.title != "Quit")
        yield from obtui_commands(self)

    def _show(self, screen: Screen[None]) -> None:
        if isinstance(self.screen, type(screen)):
            return
        while len(self.screen_stack) > 1 and not self._editor_dirty(self.screen):
            self.pop_screen()
        self.push_screen(screen)

    def open_editor(self) -> ConfigEditorScreen | None:
        """The config editor when it is on the screen stack."""
        return next((s for s in self.screen_stack if isinstance(s, ConfigEditorScreen)), None)

    @staticmethod
    def _editor_dirty(screen: Screen[object]) -> bool:
        return isinstance(screen, ConfigEditorScreen) and screen.dirty

    def action_show_status(self) -> None:
        """Open the status screen."""
        self._show(StatusScreen())

    def action_show_errors(self) -> None:
        """Open the errors screen."""
        self._show(ErrorsScreen())

    def action_show_help(self) -> None:
        """Open the help screen."""
        self._show(HelpScreen())

    def action_main_screen(self) -> None:
        """Back to the dashboard."""
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def action_edit_config(self) -> None:
        """Open the config editor on the file in use."""
        path = self.config_sync.path
        text: str | None = None
        if path is not None:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                self.notify(f"Could not read {path}: {exc}", severity="error", markup=False)
        self._show(ConfigEditorScreen(path, self.default_config_path, text))

    def open_error(
        self, error_id: str, summary: ErrorSummary | None, filtered: list[str] | None = None
    ) -> None:
        """Show one error in detail, over the current screen (`filtered`: the ids the errors
        screen's filter shows, for its retry-all key)."""
        self.push_screen(ErrorDetailScreen(error_id, summary, filtered))

    def action_pause(self) -> None:
        """Stop taking new work from the queue."""
        self.host.pause()
        self.paused = True
        self.refresh_bindings()
        self.notify("Paused: no new work is started; events are still collected.")

    def action_resume(self) -> None:
        """Take work from the queue again."""
        self.host.resume()
        self.paused = False
        self.refresh_bindings()
        self.notify("Resumed.")

    def action_rescan(self) -> None:
        """Reconcile every bucket with a full scan."""
        self.host.rescan()
        self.notify("Rescan requested.")

    async def action_quit(self) -> None:
        """Graceful stop; the app exits when the engine has finished. A second quit forces."""
        if self.stopping:
            self.action_force_quit()
            return
        if any(self._editor_dirty(s) for s in self.screen_stack):

            def answered(yes: bool | None) -> None:
                if yes:
                    self._begin_stop()

            self.push_screen(
                ConfirmScreen("The config has unsaved changes. Quit anyway?", yes="Quit"), answered
            )
            return
        self._begin_stop()

    def _begin_stop(self) -> None:
        self.stopping = True
        self.host.request_stop()
        self._render_header()
        self.notify("Stopping… in-flight work finishing. Press q again to force.", timeout=60)
        self._wait_for_engine()

    def action_force_quit(self) -> None:
        """Stop at once, cancelling in-flight work."""
        self.stopping = self.forced = True
        self.host.request_stop(force=True)
        self.exit()

    @work(thread=True, group="engine-stop", exit_on_error=False)
    def _wait_for_engine(self) -> None:
        worker = get_current_worker()
        while not worker.is_cancelled:
            if self.host.join(0.1):
                self.post_message(self.EngineStopped())
                return

    @on(EngineStopped)
    def _engine_stopped(self) -> None:
        self.exit()

    # ---- config: save from the editor, follow outside edits -------------------------------------

    def save_config(self, text: str, config: Config, path: Path) -> None:
        """Write `text` to `path` and apply `config`, in a thread worker (apply may block)."""
        self._run_config_save(text, config, path)

    @work(thread=True, group="config", exit_on_error=False)
    def _run_config_save(self, text: str, config: Config, path: Path) -> None:
        self.post_message(self.ConfigDone(self.config_sync.save(text, config, path)))

    def _check_config_file(self) -> None:
        if self.config_sync.path is None or (
            self._follow_worker is not None and not self._follow_worker.is_finished
        ):
            return
        self._follow_worker = self._run_config_check()

    @work(thread=True, group="config-follow", exit_on_error=False)
    def _run_config_check(self) -> None:
        outcome = self.config_sync.check()
        if outcome is not None:
            self.post_message(self.ConfigDone(outcome))

    @on(ConfigDone)
    def _config_done(self, event: ConfigDone) -> None:
        show_outcome(self, event.outcome)


def make_app(
    host: EngineHost,
    store: RecordStore | None,
    config: Config,
    *,
    config_path: Path | None,
    poll_interval: float | None = 0.25,
    clock: Callable[[], float] = time.time,
    themes_dirs: list[Path] | None = None,
    start_engine: bool = True,
    default_config_path: Path | None = None,
    config_poll_interval: float | None = 1.0,
    cli_buckets: Sequence[Path] | None = None,
) -> ObtuiApp:
    """Build the dashboard app. `poll_interval=None` and `start_engine=False` freeze it for tests.

    `cli_buckets` are re-added to every config the editor or a file edit applies (default: the
    config's buckets that did not come from the file, i.e. those without a line number).
    """
    return ObtuiApp(
        host,
        store,
        config,
        config_path=config_path,
        default_config_path=default_config_path or default_config_file(),
        poll_interval=poll_interval,
        config_poll_interval=config_poll_interval,
        clock=clock,
        themes_dirs=default_theme_dirs() if themes_dirs is None else themes_dirs,
        start_engine=start_engine,
        cli_buckets=[b.path for b in config.buckets if b.line is None]
        if cli_buckets is None
        else cli_buckets,
    )
