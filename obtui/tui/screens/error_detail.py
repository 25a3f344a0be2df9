"""One error in full: message, stack, context, recovery and the suggestion."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from obtui.api.snapshot import ErrorSummary
from obtui.tracking.records import ErrorRecord
from obtui.tui.screens.retry_keys import RETRY_BINDINGS, RetryKeys

if TYPE_CHECKING:
    from obtui.tui.app import ObtuiApp

WIDTH = 12


def _kv(label: str, value: str | None, style: str = "") -> Content:
    return Content.assemble((label.ljust(WIDTH), "$text-muted"), (value or "–", style))


def record_sections(r: ErrorRecord) -> dict[str, Content]:
    """The detail screen's sections for a full record."""
    recovery = "not attempted"
    if r.recovery_attempted:
        recovery = ("succeeded" if r.recovery_successful else "failed") + (
            f" (fallback: {r.recovery_fallback})" if r.recovery_fallback else ""
        )
    sections = {
        "message": Content("\n").join(
            [
                Content.assemble((f"{r.name}: " if r.name else "", "bold"), r.message),
                _kv("Code", r.code),
            ]
        ),
        "summary": Content("\n").join(
            [
                _kv("Error", r.error_id, "bold"),
                _kv("Time", r.timestamp),
                _kv(
                    "Severity",
                    str(r.severity),
                    "$text-error" if str(r.severity) == "ERROR" else "$text-warning",
                ),
                _kv("Category", str(r.category)),
                _kv("Where", f"{r.component} · {r.operation}"),
                _kv("File", r.file_path),
                _kv("Bucket", r.watch_dir),
                _kv("Rule", r.rule),
            ]
        ),
        "recovery": Content(recovery),
    }
    if r.suggestion:
        sections["suggestion"] = Content(r.suggestion)
    if r.context:
        sections["context"] = Content(json.dumps(r.context, indent=2, sort_keys=True, default=str))
    if r.stack:
        sections["stack"] = Content(r.stack.rstrip())
    return sections


def summary_sections(s: ErrorSummary) -> dict[str, Content]:
    """What can be shown when only the snapshot's summary is at hand (no record store)."""
    return {
        "summary": Content("\n").join(
            [
                _kv("Error", s.error_id, "bold"),
                _kv("Time", s.timestamp),
                _kv("Severity", s.severity),
                _kv("Category", s.category),
                _kv("File", s.file_path),
                _kv("Rule", s.rule),
            ]
        ),
        "message": Content(s.message),
    }


TITLES = {
    "message": "Message",
    "suggestion": "Suggestion",
    "summary": "Record",
    "recovery": "Recovery",
    "context": "Context",
    "stack": "Stack",
}


class ErrorDetailScreen(RetryKeys, Screen[None]):
    """Loads the record from the store in a thread worker; Escape goes back. `t` retries this
    error's file; `T` every file of the errors screen's filter when opened from there."""

    app: ObtuiApp

    BINDINGS = [*RETRY_BINDINGS, Binding("escape", "back", "Back", id="obtui.detail.back")]

    class Loaded(Message):
        """The record arrived from the store (posted from the worker thread)."""

        def __init__(self, record: ErrorRecord | None, error: str | None = None) -> None:
            super().__init__()
            self.record = record
            self.error = error

    def __init__(
        self, error_id: str, summary: ErrorSummary | None = None, filtered: list[str] | None = None
    ) -> None:
        super().__init__(id="error-detail")
        self.error_id = error_id
        self.summary = summary
        self.filtered = filtered

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with VerticalScroll(id="detail-body"):
            yield Static(id="detail-note")
            for key, title in TITLES.items():
                section = Static(id=f"detail-{key}", classes="section")
                section.border_title = title
                yield section
        yield Footer(compact=True)

    def on_mount(self) -> None:
        if self.summary is not None:
            self._fill(summary_sections(self.summary))
        if self.app.store is None:
            self._note("no record store: only the summary is known")
        else:
            self._note("loading…")
            self._load()

    @work(thread=True, exclusive=True, group="error-detail", exit_on_error=False)
    def _load(self) -> None:
        store = self.app.store
        assert store is not None
        try:
            self.post_message(self.Loaded(store.error(self.error_id)))
        except Exception as exc:  # a broken store must not take the UI down
            self.post_message(self.Loaded(None, f"could not read the record: {exc}"))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        if event.record is not None:
            self._note(None)
            self._fill(record_sections(event.record))
        else:
            self._note(event.error or f"{self.error_id} is not on record")

    def _note(self, text: str | None) -> None:
        note = self.query_one("#detail-note", Static)
        note.display = text is not None
        note.update(Content(text or ""))

    def _fill(self, sections: dict[str, Content]) -> None:
        for key in TITLES:
            widget = self.query_one(f"#detail-{key}", Static)
            widget.display = key in sections
            if key in sections:
                widget.update(sections[key])

    def action_back(self) -> None:
        self.dismiss()

    def retry_target(self) -> str | None:
        return self.error_id

    def retry_filtered(self) -> list[str] | None:
        return self.filtered
