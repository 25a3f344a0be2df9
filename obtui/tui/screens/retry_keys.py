"""Retry from the errors screens: `t` retries the selected error's file, `T` every file of the
errors the current filter shows (after a confirmation). The request goes into the record store
through `obtui.tracking.requests` (the engine takes it within a second); never to the engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.binding import Binding

from obtui.tui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from textual.screen import Screen

    from obtui.tracking.requests import RetryRequester
    from obtui.tui.app import ObtuiApp

RETRY_BINDINGS: list[Binding | tuple[str, str] | tuple[str, str, str]] = [
    Binding("t", "retry_one", "Retry", id="obtui.errors.retry"),
    Binding("T", "retry_all", "Retry all", id="obtui.errors.retry_all"),
]


if TYPE_CHECKING:
    _Base = Screen[None]
else:
    _Base = object


class RetryKeys(_Base):
    """Mixin (before the Screen base) of the screens with retry keys; they list
    `RETRY_BINDINGS` in their BINDINGS (Textual merges bindings of DOM classes only) and say
    which error is selected and which the filter shows (`retry_target`, `retry_filtered`)."""

    app: ObtuiApp

    def retry_target(self) -> str | None:
        """The error id whose file `t` retries, or None."""
        raise NotImplementedError

    def retry_filtered(self) -> list[str] | None:
        """The error ids the current filter shows (None: no filter here)."""
        raise NotImplementedError

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "retry_all":
            return self.retry_filtered() is not None
        return True

    def action_retry_one(self) -> None:
        error_id = self.retry_target()
        if error_id is None:
            self.notify("Select an error first.", severity="warning")
            return
        self._send_retry([error_id])

    def action_retry_all(self) -> None:
        ids = self.retry_filtered()
        if not ids:
            self.notify("No errors are shown: nothing to retry.", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._send_retry(ids)

        self.app.push_screen(
            ConfirmScreen(f"Retry the files of the {len(ids)} error(s) shown?", yes="Retry"), answered
        )

    def _send_retry(self, ids: list[str]) -> None:
        requester = self.app.retries
        if requester is None:
            self.notify("No record store: cannot retry from here.", severity="warning")
            return
        self.run_worker(
            lambda: self._retry_thread(requester, ids), thread=True, group="retry", exit_on_error=False
        )

    def _retry_thread(self, requester: RetryRequester, ids: list[str]) -> None:
        try:
            outcome = requester.retry(ids)
        except Exception as exc:  # a broken store must not take the UI down
            self.app.call_from_thread(
                self.notify, f"Could not request the retry: {exc}", severity="error", markup=False
            )
            return
        severity = "information" if outcome.plan.entries else "warning"
        self.app.call_from_thread(
            self.notify, outcome.summary(), title="Retry", severity=severity, markup=False
        )
