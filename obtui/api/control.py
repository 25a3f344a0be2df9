"""What a client (the TUI, the headless CLI, tests) may ask of a running engine.

Every method here is thread-safe: the engine runs on its own asyncio loop, usually in its own
thread (`obtui.hosting.thread.EngineThread`), and these calls hand the request to that loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from obtui.api.snapshot import EngineSnapshot
from obtui.config.model import Config


@dataclass(frozen=True)
class ReloadDiff:
    """What a config reload changed."""

    rules_added: tuple[str, ...] = ()
    rules_removed: tuple[str, ...] = ()
    rules_changed: tuple[str, ...] = ()
    buckets_added: tuple[str, ...] = ()
    buckets_removed: tuple[str, ...] = ()
    runner_changed: tuple[str, ...] = field(default_factory=tuple)  # names of [runner] keys

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.rules_added,
                self.rules_removed,
                self.rules_changed,
                self.buckets_added,
                self.buckets_removed,
                self.runner_changed,
            )
        )

    def summary(self) -> str:
        """One human sentence, e.g. 'rules added: pdfs; buckets removed: /srv/old'."""
        parts = []
        for label, items in (
            ("rules added", self.rules_added),
            ("rules removed", self.rules_removed),
            ("rules changed", self.rules_changed),
            ("buckets added", self.buckets_added),
            ("buckets removed", self.buckets_removed),
            ("runner settings changed", self.runner_changed),
        ):
            if items:
                parts.append(f"{label}: {', '.join(items)}")
        return "; ".join(parts) if parts else "no changes"


class EngineControl(Protocol):
    """The engine as its clients see it."""

    def snapshot(self) -> EngineSnapshot:
        """The latest published snapshot (cheap; never blocks)."""
        ...

    def pause(self) -> None:
        """Stop taking new work from the queue; events are still collected."""
        ...

    def resume(self) -> None: ...

    def rescan(self) -> None:
        """Run a reconciliation scan of every bucket now."""
        ...

    def apply_config(self, config: Config) -> ReloadDiff:
        """Swap in new rules, ignores and buckets without a restart. Returns what changed."""
        ...

    def request_stop(self, force: bool = False) -> None:
        """Graceful stop: no new work, in-flight work finishes within the grace period, the rest
        stays pending for the next start. `force=True` cancels in-flight work at once."""
        ...
