"""What the app does with the outcome of a config save or of a followed file edit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from obtui.tui.config_sync import ConfigOutcome
from obtui.tui.screens.config_editor import ConfigEditorScreen

if TYPE_CHECKING:
    from obtui.tui.app import ObtuiApp


def show_outcome(app: ObtuiApp, o: ConfigOutcome) -> None:
    """Adopt an applied config, update an open editor, and tell the user (never as markup)."""
    editor = next((s for s in app.screen_stack if isinstance(s, ConfigEditorScreen)), None)
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
