"""`?`: the keys, what each screen shows, and where obtui keeps its files."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

if TYPE_CHECKING:
    from obtui.tui.app import ObtuiApp

KEYS = (
    ("s", "status: every figure, buckets, breakers, config"),
    ("e", "errors: / filters, Enter opens one, t/T retry one/all"),
    ("c", "config editor: ctrl+s checks, saves and applies"),
    ("p", "pause or resume (events are still collected)"),
    ("r", "rescan every bucket now"),
    ("q", "quit: in-flight files finish, the rest stays"),
    ("", "pending for the next start; q again forces"),
    ("escape", "back to the main screen"),
    ("ctrl+p", "command palette: every action, and themes"),
    ("?", "this help"),
)


def help_text(config_path: str, themes: str) -> Content:
    """The body of the help screen."""
    lines = [Content.styled("Keys", "bold $text-accent")]
    lines += [Content.assemble((f"  {key:<8}", "bold $text-primary"), text) for key, text in KEYS]
    lines += [
        Content(""),
        Content.styled("Files", "bold $text-accent"),
        Content.assemble(("  config  ", "$text-muted"), config_path),
        Content.assemble(("  themes  ", "$text-muted"), themes),
        Content(""),
        Content.styled("Every outcome is on record: obtui --report, obtui --errors.", "$text-muted"),
    ]
    return Content("\n").join(lines)


class HelpScreen(ModalScreen[None]):
    """Closes on Escape, `?` or `q`."""

    app: ObtuiApp

    BINDINGS = [Binding("escape,question_mark,q", "close", "Close", id="obtui.help.close")]

    def __init__(self) -> None:
        super().__init__(id="help")

    def compose(self) -> ComposeResult:
        app = self.app
        config = str(app.config_path) if app.config_path else f"{app.default_config_path} (not created yet)"
        themes = ("\n" + " " * 10).join(str(d) for d in app.themes_dirs)  # one folder a line
        with VerticalScroll(id="help-box") as box:
            box.border_title = "obtui help"
            yield Static(help_text(config, themes), id="help-text")

    def action_close(self) -> None:
        self.dismiss()
