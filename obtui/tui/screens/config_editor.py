"""`c`: edit the config file in use as TOML; ctrl+s validates, saves and applies it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.theme import Theme
from textual.widgets import Footer, Header, Static, TextArea
from textual.widgets.text_area import Selection

from obtui.config.errors import ConfigError
from obtui.config.sample import sample_config_text
from obtui.tui.config_sync import ProblemInfo, parse, problem_of
from obtui.tui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from obtui.tui.app import ObtuiApp


class ConfigEditorScreen(Screen[None]):
    """A TOML editor on one file. Nothing is applied unless the whole text is valid."""

    app: ObtuiApp

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="obtui.editor.save"),
        # priority: the code editor's TextArea would otherwise take escape to move the focus
        Binding("escape", "close", "Close", priority=True, id="obtui.editor.close"),
    ]

    def __init__(self, path: Path | None, default_path: Path, text: str | None) -> None:
        super().__init__(id="config-editor")
        self.path = path
        self.default_path = default_path
        self._initial = text if text is not None else sample_config_text()
        self._saved = self._initial

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield Static(self._path_line(), id="editor-path")
        yield TextArea.code_editor(self._initial, language="toml", id="config-text")
        yield Static(id="editor-problem")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#editor-problem", Static).display = False
        self._theme_changed(self.app.current_theme)
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)
        self.query_one(TextArea).focus()

    def _theme_changed(self, theme: Theme) -> None:
        # "css" follows the app theme's colours; its token colours are made for dark backgrounds.
        self.query_one(TextArea).theme = "css" if theme.dark else "github_light"

    def _path_line(self) -> Content:
        if self.path is not None:
            return Content.assemble(("Editing ", "$text-muted"), str(self.path))
        return Content.assemble(
            ("No config file yet: ctrl+s creates ", "$text-muted"), str(self.default_path)
        )

    @property
    def editor(self) -> TextArea:
        """The TextArea holding the text."""
        return self.query_one("#config-text", TextArea)

    @property
    def dirty(self) -> bool:
        """True when the text differs from what was last loaded or saved."""
        return self.editor.text != self._saved

    def action_save(self) -> None:
        """Validate; show the first problem at its line, or save and apply in a worker."""
        text = self.editor.text
        target = self.path or self.default_path
        try:
            config = parse(text, target)
        except ConfigError as exc:
            self.show_problem(problem_of(exc))
            return
        self.show_problem(None)
        self.app.save_config(text, config, target)

    def show_problem(self, problem: ProblemInfo | None) -> None:
        """Show `problem` (never as markup) and put the cursor where it points; None clears it.

        The cursor line is highlighted but nothing is selected, so the next key the user types
        is inserted, never replaces the text at fault."""
        box = self.query_one("#editor-problem", Static)
        box.display = problem is not None
        if problem is None:
            box.update("")
            return
        box.update(Content.styled(problem.text, "bold $text-error"))
        ta = self.editor
        if problem.line is not None and ta.document.line_count:
            row = min(max(problem.line - 1, 0), ta.document.line_count - 1)
            end = len(ta.document.get_line(row))
            start = min(max((problem.col or 1) - 1, 0), end)
            ta.selection = Selection.cursor((row, start))
            ta.scroll_cursor_visible(center=True)
        ta.focus()

    def mark_saved(self, text: str, path: Path) -> None:
        """The app saved `text` to `path`."""
        self._saved = text
        self.path = path
        self.query_one("#editor-path", Static).update(self._path_line())

    def file_changed(self, text: str, problem: ProblemInfo | None) -> None:
        """The file changed outside the app: take its text unless there are unsaved edits."""
        if self.dirty:
            return
        self._saved = text
        self.editor.load_text(text)
        self.show_problem(problem)

    def action_close(self) -> None:
        """Close, asking first when there are unsaved changes."""
        if not self.dirty:
            self.dismiss()
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss()

        self.app.push_screen(
            ConfirmScreen("Discard your unsaved changes to the config?", yes="Discard", no="Keep editing"),
            answered,
        )
