"""The app's actions as command palette entries (ctrl+p), next to Textual's own (Theme, Keys…)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from textual.app import SystemCommand

if TYPE_CHECKING:
    from obtui.tui.app import ObtuiApp


def obtui_commands(app: ObtuiApp) -> Iterator[SystemCommand]:
    """One entry per key binding of the app, so every action can be found by name."""
    yield SystemCommand(
        "Status", "Every figure, buckets, queue, breakers and config (s)", app.action_show_status
    )
    yield SystemCommand("Errors", "Browse and filter the error records (e)", app.action_show_errors)
    yield SystemCommand("Edit config", "Edit, validate and apply the config file (c)", app.action_edit_config)
    if app.paused:
        yield SystemCommand("Resume", "Take work from the queue again (p)", app.action_resume)
    else:
        yield SystemCommand("Pause", "Stop taking new work; events are still collected (p)", app.action_pause)
    yield SystemCommand("Rescan", "Reconcile every bucket with a full scan now (r)", app.action_rescan)
    yield SystemCommand("Help", "Keys, screens and files (?)", app.action_show_help)
    yield SystemCommand("Main screen", "Back to the dashboard (escape)", app.action_main_screen)
    yield SystemCommand(
        "Quit", "Stop gracefully: in-flight files finish, the rest stays pending (q)", app.action_quit
    )
    yield SystemCommand("Force quit", "Stop now, cancelling in-flight work", app.action_force_quit)
