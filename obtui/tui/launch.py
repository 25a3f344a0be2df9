"""Start the dashboard: the engine in a process of its own, the Textual app in this one."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from obtui.config.model import Config

FORCED_STOP_SECONDS = 1.5  # how long a forced stop may take before the engine process is killed


def run_tui(config: Config, state_dir: Path, *, cli_buckets: list[Path]) -> int:
    """Run the dashboard until the user quits. Exit code 0, or 2 if the engine could not start."""
    from obtui.hosting.logs import setup_logging
    from obtui.hosting.process import EngineProcess
    from obtui.tracking.runtime_files import RunnerLockedError, runner_alive
    from obtui.tui.app import make_app

    if runner_alive(state_dir):
        print(
            f"obtui: another obtui runner is already using the state dir {state_dir}; "
            "stop it first, or give this one its own --state-dir",
            file=sys.stderr,
        )
        return 2
    setup_logging(state_dir, stderr=False)  # the terminal belongs to the UI
    # The app follows the config file itself (it also refreshes an open editor), so the
    # engine process leaves that to it.
    host = EngineProcess(config, state_dir, cli_buckets=cli_buckets)
    store = _LazyStore(state_dir)
    app = make_app(host, store, config, config_path=config.source, cli_buckets=cli_buckets)
    app.freeze_gc = True
    from obtui.tracking.requests import RetryRequester

    app.retries = RetryRequester(state_dir)
    app.run()
    # After a forced quit (a second q) the engine cancels its in-flight work at once: wait for
    # it a moment only, then kill it, so that neither process outlives the promise of a second.
    forced = app.forced
    host.request_stop(force=forced)
    if not host.join(FORCED_STOP_SECONDS if forced else config.runner.shutdown_grace_seconds + 10):
        host.request_stop(force=True)
        if not host.join(FORCED_STOP_SECONDS if forced else 10):
            host.kill()
            host.join(5)
    store.close()
    if isinstance(host.error, RunnerLockedError):
        print(f"obtui: {host.error}", file=sys.stderr)
        return 2
    if host.error is not None:
        logging.getLogger("obtui").error("engine failed: %s", host.error)
        print(f"obtui: the engine stopped with an error: {host.error}", file=sys.stderr)
        return 1
    return 0


class _LazyStore:
    """The record store for the errors screens, opened read-only once the engine created it."""

    def __init__(self, state_dir: Path) -> None:
        self._dir = state_dir
        self._store = None

    def _get(self):  # type: ignore[no-untyped-def]
        if self._store is None:
            from obtui.tracking.sqlite_store import SQLiteStore

            self._store = SQLiteStore(self._dir, readonly=True)  # type: ignore[assignment]
        return self._store

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._get(), name)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
