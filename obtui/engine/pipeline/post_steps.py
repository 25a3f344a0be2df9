"""The steps after a file's action that concern where the file ends up: planning the post-action
before the record commits (so the record and the result file name the final path), writing the
result file, carrying the post-action out after the commit, and completing it after a crash.

Used by `Processor`; runs on the engine loop (file work in threads).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from obtui.config.model import PostAction, RuleConfig
from obtui.engine.actions.base import ActionContext, ActionResult
from obtui.engine.actions.post import PostPlan
from obtui.engine.jobs import Job
from obtui.engine.pipeline.dispatcher import Dispatcher
from obtui.engine.records import error_record, now_iso
from obtui.engine.seams import OutcomeLedger
from obtui.tracking.records import ErrorRecord, ManifestEntry, ManifestStatus, SuccessRecord

log = logging.getLogger("obtui.processor")


class PostSteps:
    """Plan, result file, carry-out and resume of post-actions, for one `Processor`."""

    def __init__(
        self,
        *,
        ledger: OutcomeLedger,
        record_error: Callable[[ErrorRecord, ManifestEntry | None], Awaitable[bool]],
    ) -> None:
        self._ledger = ledger
        self._record_error = record_error

    async def plan(self, job: Job, post: PostAction) -> tuple[PostPlan | None, Exception | None]:
        """Where the file goes after its record (reserved until moved); a target that cannot be
        used is recorded after the commit, as a failed post-action always was."""
        from obtui.engine.actions.post import plan_post

        if post.kind == "keep":
            return None, None
        try:
            return await asyncio.to_thread(plan_post, Path(job.path), Path(job.bucket), post), None
        except Exception as exc:
            return None, exc

    async def abandon(self, plan: PostPlan | None, rule: RuleConfig) -> None:
        """The record did not commit: give the destination back and remove the result file
        written for it (the file is processed again, and writes a new one)."""
        from obtui.engine.actions.post import release

        if plan is None:
            return
        release(plan)
        if rule.result_json and plan.kind != "keep":
            await asyncio.to_thread(_unlink_quietly, plan.result_path)

    async def resume(self, job: Job, rule: RuleConfig, entry: ManifestEntry) -> None:
        """A record committed before a crash cut its post-action short: carry out the same one,
        to the path that record names."""
        from obtui.engine.actions.post import plan_post

        ok = not entry.record_id.startswith("ERR-")
        post = rule.on_success if ok else rule.on_failure
        planned = (
            Path(entry.recorded_path) if entry.recorded_path and entry.recorded_path != job.path else None
        )
        try:
            plan = await asyncio.to_thread(plan_post, Path(job.path), Path(job.bucket), post, planned=planned)
        except Exception as exc:
            await self.carry_out(job, rule, None, exc, failed=not ok)
            return
        await self.carry_out(job, rule, plan, None, failed=not ok)

    async def carry_out(
        self, job: Job, rule: RuleConfig, plan: PostPlan | None, plan_error: Exception | None, *, failed: bool
    ) -> None:
        """Carry out the planned post-action (after the commit); the entry ends `consumed`, or
        `done`/`failed` when the file stays where it is (it was in the move folder already)."""
        from obtui.engine.actions.post import carry_out

        dest: Path | None = None
        try:
            if plan_error is not None:
                raise plan_error
            if plan is not None:
                dest = await asyncio.to_thread(carry_out, plan)
        except Exception as exc:
            await self._record_error(
                error_record(exc, path=job.path, bucket=job.bucket, rule=rule.name), None
            )
            return
        if plan is not None:
            stays = ManifestStatus.FAILED if failed else ManifestStatus.DONE
            status = stays if plan.kind == "keep" else ManifestStatus.CONSUMED
            moved_to = str(dest) if plan.kind == "move" and dest is not None else None  # for --retry
            try:
                await self._ledger.mark(job.path, status, moved_to=moved_to)
            except Exception as exc:
                log.error("could not update manifest for %s: %s", job.path, exc)

    async def result_json(
        self,
        job: Job,
        rule: RuleConfig,
        ctx: ActionContext | None,
        status: str,
        result: ActionResult | None,
        error: Exception | None,
        t0: float,
        plan: PostPlan | None = None,
    ) -> None:
        from obtui.engine.actions.post import write_result_json

        # When processing began (t0 is a perf_counter reading), so duration_seconds is real.
        began = datetime.fromtimestamp(time.time() - (time.perf_counter() - t0), UTC)
        started = began.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        try:
            await asyncio.to_thread(
                write_result_json,
                Path(job.path),
                ctx,
                status,
                result,
                error,
                started,
                now_iso(),
                rule=rule,
                plan=plan,
            )
        except Exception as exc:
            log.warning("could not write result.json for %s: %s", job.path, exc)


def moved(record: SuccessRecord, job: Job, plan: PostPlan | None) -> SuccessRecord:
    """The record names where the file is after its post-action (and where it was dropped)."""
    if plan is None or str(plan.now_at) == job.path:
        return record
    extra = {**record.extra, "dropped_as": job.path}
    return dataclasses.replace(record, file_path=str(plan.now_at), extra=extra)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


async def resume_unfinished(ledger: OutcomeLedger, dispatcher: Dispatcher) -> None:
    """At start: files whose record committed but whose move/delete did not happen (a crash) go
    first in the queue; the destinations their records name are reserved before any new file
    can take them."""
    from obtui.engine.actions.post import reserve
    from obtui.engine.pipeline.intake import rel_of

    for entry in await asyncio.to_thread(ledger.unfinished):
        rel = rel_of(entry.bucket, entry.path)
        if rel is not None and os.path.lexists(entry.path):
            if entry.recorded_path and entry.recorded_path != entry.path:
                reserve(Path(entry.recorded_path))
            dispatcher.requeue_front(Job(entry.path, entry.bucket, rel, "resume"))
