"""The per-file pipeline: rule → breaker → inspect → ledger look-up → action (retry) → ledger
finish → post-action.

Order matters for exactly-once: the output is written before the record commits, and the
post-action (move/delete) runs only after the record committed (`post_pending` until then).
A finish the ledger refuses (the claim on the file was lost) leaves the file to its new owner.
Where the post-action puts the file is decided before the commit, so the record and the result
file name the final path; after a crash, `post_pending` completes that same move.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from obtui import __version__
from obtui.config.model import RuleConfig, RunnerConfig
from obtui.engine.actions.base import ActionContext, ActionResult
from obtui.engine.actions.command import run_command
from obtui.engine.actions.folder_summary import write_folder_note
from obtui.engine.actions.note import write_note
from obtui.engine.errors import ProcessingError
from obtui.engine.files.facts import FileFacts, inspect_file
from obtui.engine.files.outputs import resolve_output_dir
from obtui.engine.jobs import Job
from obtui.engine.pipeline.breaker import CircuitBreaker
from obtui.engine.pipeline.dispatcher import Dispatcher
from obtui.engine.pipeline.metrics import MetricsCollector
from obtui.engine.pipeline.patterns import Match, Matcher
from obtui.engine.pipeline.post_steps import PostSteps, moved
from obtui.engine.records import error_record, manifest_entry, now_iso, success_record
from obtui.engine.seams import Claim, OutcomeLedger
from obtui.tracking.records import ErrorRecord, ManifestEntry, ManifestStatus, Severity, SuccessRecord

log = logging.getLogger("obtui.processor")

WAITS_ON_BREAKER = "the file waits for the rule's circuit breaker; it runs again when a trial succeeds"


@dataclass
class Hooks:
    """How the processor tells the engine what happened (all called on the engine loop)."""

    # (record, the file's earlier outcome was a failure that this success supersedes)
    on_success: Callable[[SuccessRecord, bool], None]
    # (record, settled the file as failed, ... superseding an earlier failure of the same file)
    on_error: Callable[[ErrorRecord, bool, bool], None]
    on_breaker_open: Callable[[str], None]


@dataclass
class Seen:
    """What processing learned about a file before an outcome: its facts and manifest entry."""

    facts: FileFacts | None = None
    entry: ManifestEntry | None = None
    looked_up: bool = False  # `entry` was read (None then means: no entry)


def failed_before(entry: ManifestEntry | None) -> bool:
    """The file's latest outcome on record is a failure (see `Figures`)."""
    return entry is not None and entry.status == ManifestStatus.FAILED


class Processor:
    def __init__(
        self,
        *,
        matcher: Callable[[], Matcher],
        runner: Callable[[], RunnerConfig],
        ledger: OutcomeLedger,
        dispatcher: Callable[[], Dispatcher],
        metrics: MetricsCollector,
        hooks: Hooks,
    ) -> None:
        self._matcher = matcher
        self._runner = runner
        self._ledger = ledger
        self._dispatcher = dispatcher
        self._metrics = metrics
        self._hooks = hooks
        self.post = PostSteps(ledger=ledger, record_error=self._record_error)
        self.breakers: dict[str, CircuitBreaker[Job]] = {}
        self.retrying: dict[str, Job] = {}
        self._timers: set[asyncio.TimerHandle] = set()

    # -- breakers and retries -----------------------------------------------------------------

    def breaker(self, rule: str) -> CircuitBreaker[Job]:
        cfg = self._runner()
        b = self.breakers.get(rule)
        if b is None:
            b = self.breakers[rule] = CircuitBreaker(rule, cfg.breaker_threshold, cfg.breaker_reset_seconds)
        b.threshold, b.reset_seconds = cfg.breaker_threshold, cfg.breaker_reset_seconds
        return b

    def _later(self, delay: float, fn: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            fn()

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def cancel_timers(self) -> None:
        for t in self._timers:
            t.cancel()
        self._timers.clear()

    def _park(self, job: Job, breaker: CircuitBreaker[Job]) -> None:
        job.since_wall = time.time()
        breaker.waiting.append(job)
        if len(breaker.waiting) == 1:
            self._later(breaker.seconds_until_half_open() + 0.01, lambda: self._release_trial(breaker))

    def _release_trial(self, breaker: CircuitBreaker[Job]) -> None:
        if breaker.waiting and breaker.state != "closed":
            job = breaker.waiting.popleft()
            job.reason = "breaker"
            self._dispatcher().requeue_front(job)
            if breaker.waiting:
                self._later(max(breaker.seconds_until_half_open(), 1.0), lambda: self._release_trial(breaker))

    def _release(self, jobs: list[Job]) -> None:
        d = self._dispatcher()
        for job in jobs:
            d.requeue_front(job)

    def _schedule_retry(self, job: Job) -> None:
        cfg = self._runner()
        delay = min(cfg.retry_max_seconds, cfg.retry_base_seconds * 2 ** (job.attempt - 1))
        delay *= random.uniform(0.5, 1.5)
        job.attempt += 1
        job.reason = "retry"
        job.since_wall = time.time()
        self.retrying[job.path] = job

        def requeue() -> None:
            if self.retrying.pop(job.path, None) is job:
                self._dispatcher().requeue_front(job)

        self._later(delay, requeue)

    # -- the pipeline ---------------------------------------------------------------------------

    async def process(self, job: Job, claim: Claim | None = None) -> None:
        """Process one job, holding `claim` on its file; never raises except CancelledError."""
        matcher = self._matcher()
        match = matcher.folder_rule(job.bucket, job.rel) if job.is_dir else matcher.match(job.bucket, job.rel)
        if match is None:
            return  # ignored, or no rule matches any more (config reloaded)
        rule = match.rule
        job.rule = rule.name
        breaker = self.breaker(rule.name)
        if not breaker.allow():
            self._park(job, breaker)
            return
        t0 = time.perf_counter()
        seen = Seen()
        try:
            if rule.action == "note":
                # One hop to a thread for the whole note: inspecting, the manifest look-up and
                # writing the note, since each hop costs as much as a small note.
                facts, entry, ctx, result = await asyncio.to_thread(self._note_sync, job, match, seen)
            else:
                facts, entry = await asyncio.to_thread(self._prepare, job, seen)
                ctx, result = None, None
                if not self._unchanged(entry, facts):
                    ctx = self._context(job, match, facts)
                    result = await self._run_action(ctx)
            if ctx is None or result is None:
                breaker.neutral()
                assert entry is not None
                if entry.status == ManifestStatus.POST_PENDING:
                    await self.post.resume(job, rule, entry)
                else:
                    self._metrics.skipped_unchanged += 1
                return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._failed(job, rule, breaker, exc, seen, t0, claim)
            return
        await self._succeeded(job, rule, breaker, ctx, result, t0, claim, failed_before(entry))

    @staticmethod
    def _unchanged(entry: ManifestEntry | None, facts: FileFacts) -> bool:
        """Nothing to do: this content is settled here with its output still present, or its
        record committed and only the post-action is left (a crash). A changed file, a moved or
        deleted one dropped again (consumed) and one whose recorded output is gone are processed."""
        from obtui.engine.pipeline.scanner import settled

        if entry is None or entry.sha256 != facts.sha256:
            return False
        return entry.status == ManifestStatus.POST_PENDING or settled(entry)

    def _note_sync(
        self, job: Job, match: Match, seen: Seen
    ) -> tuple[FileFacts, ManifestEntry | None, ActionContext | None, ActionResult | None]:
        facts, entry = self._prepare(job, seen)
        if self._unchanged(entry, facts):
            return facts, entry, None, None
        ctx = self._context(job, match, facts)
        result = write_folder_note(ctx) if facts.is_dir else write_note(ctx)
        return facts, entry, ctx, result

    def _prepare(self, job: Job, seen: Seen) -> tuple[FileFacts, ManifestEntry | None]:
        facts = inspect_file(
            Path(job.path), Path(job.bucket), self._runner().max_file_size, allow_dir=job.is_dir
        )
        seen.facts = facts
        seen.entry, seen.looked_up = self._ledger.lookup(job.path), True
        return facts, seen.entry

    def _context(self, job: Job, match: Match, facts: FileFacts) -> ActionContext:
        bucket = Path(job.bucket)
        out = resolve_output_dir(bucket, Path(job.path), job.rel, match.rule.output_dir)
        matcher = self._matcher()
        return ActionContext(
            facts=facts,
            bucket=bucket,
            rel=job.rel,
            rule=match.rule,
            matched_pattern=match.pattern,
            output_dir=out,
            attempt=job.attempt,
            obtui_version=__version__,
            now_iso=now_iso(),
            env=job.env,
            never_input=(lambda rel, is_dir: matcher.ignored(job.bucket, rel, is_dir))
            if job.is_dir
            else None,
        )

    async def _run_action(self, ctx: ActionContext) -> ActionResult:
        """The command action (note actions run whole in `_note_sync`)."""
        return await run_command(ctx)

    async def _succeeded(
        self,
        job: Job,
        rule: RuleConfig,
        breaker: CircuitBreaker[Job],
        ctx: ActionContext,
        result: ActionResult,
        t0: float,
        claim: Claim | None,
        supersedes: bool = False,
    ) -> None:
        plan, plan_error = await self.post.plan(job, rule.on_success)
        if rule.result_json:
            await self.post.result_json(job, rule, ctx, "COMPLETED", result, None, t0, plan)
        duration_ms = (time.perf_counter() - t0) * 1000
        record = moved(success_record(ctx, result, duration_ms), job, plan)
        status = ManifestStatus.DONE if rule.on_success.kind == "keep" else ManifestStatus.POST_PENDING
        entry = manifest_entry(job.path, job.bucket, ctx.facts, status, rule.name)
        try:
            finished = await self._ledger.finish(record, entry, claim)
        except Exception as exc:  # the store failed: nothing is recorded, so the file is redone
            log.error("could not record success for %s: %s", job.path, exc)
            await self.post.abandon(plan, rule)
            self._hooks.on_error(
                error_record(exc, path=job.path, bucket=job.bucket, rule=rule.name), False, False
            )
            return
        if not finished.ok:
            log.warning("success for %s not recorded: %s", job.path, finished.refused)
            await self.post.abandon(plan, rule)
            return
        saved = finished.record
        assert isinstance(saved, SuccessRecord)
        self._metrics.outcome(True, duration_ms, result.bytes_processed, job.path)
        self._hooks.on_success(saved, supersedes)
        for warning in result.warnings:
            await self._record_error(
                error_record(
                    warning,
                    path=job.path,
                    bucket=job.bucket,
                    rule=rule.name,
                    severity=Severity.INFO,
                    recovery_fallback=getattr(warning, "fallback", None) or "fallback decoding",
                    recovery_successful=True,
                ),
                None,
                claim=claim,
            )
        self._release(breaker.success())
        if status == ManifestStatus.POST_PENDING:
            await self.post.carry_out(job, rule, plan, plan_error, failed=False)

    async def _failed(
        self,
        job: Job,
        rule: RuleConfig,
        breaker: CircuitBreaker[Job],
        exc: Exception,
        seen: Seen,
        t0: float,
        claim: Claim | None,
    ) -> None:
        transient = isinstance(exc, ProcessingError) and exc.transient
        for_breaker = not isinstance(exc, ProcessingError) or exc.counts_for_breaker
        if for_breaker:
            if breaker.failure():
                self._hooks.on_breaker_open(rule.name)
        else:
            breaker.neutral()
        if for_breaker and breaker.state != "closed":
            # The rule's tool (or its output disk) is down and the breaker is open: this file
            # waits with the others instead of being settled as failed, and runs again once a
            # half-open trial succeeds. The failure goes on record as a warning about a waiting
            # file (an error record, not a failed file: the file has no outcome yet).
            await self._record_error(
                error_record(
                    exc,
                    path=job.path,
                    bucket=job.bucket,
                    rule=rule.name,
                    attempts=job.attempt,
                    severity=Severity.WARNING,
                    recovery_fallback=WAITS_ON_BREAKER,
                ),
                None,
                claim=claim,
            )
            self._park(job, breaker)
            return
        if transient and job.attempt <= rule.retries:
            self._schedule_retry(job)
            return
        duration_ms = (time.perf_counter() - t0) * 1000
        present = os.path.lexists(job.path)
        plan, plan_error = await self.post.plan(job, rule.on_failure) if present else (None, None)
        if rule.result_json and present:
            await self.post.result_json(job, rule, None, "FAILED", None, exc, t0, plan)
        now_at = str(plan.now_at) if plan is not None else job.path
        record = error_record(exc, path=now_at, bucket=job.bucket, rule=rule.name, attempts=job.attempt)
        if now_at != job.path:
            record = dataclasses.replace(record, context={**record.context, "dropped_as": job.path})
        moving = present and rule.on_failure.kind != "keep"
        # A move/delete still to do is `post_pending`, as for a success, so a crash before it is
        # completed at the next start; it ends `consumed`.
        status = ManifestStatus.POST_PENDING if moving else ManifestStatus.FAILED
        entry = manifest_entry(job.path, job.bucket, seen.facts, status, rule.name)
        prior = seen.entry if seen.looked_up else await asyncio.to_thread(self._ledger.lookup, job.path)
        supersedes = failed_before(prior)
        if not await self._record_error(record, entry, failed=True, claim=claim, supersedes=supersedes):
            await self.post.abandon(plan, rule)  # not on record (or no longer ours): no move
            return
        self._metrics.outcome(False, duration_ms, 0, job.path)
        if claim is not None and claim.lost:
            return  # another worker owns the file now: its post-action is theirs
        if moving:
            await self.post.carry_out(job, rule, plan, plan_error, failed=True)

    async def _record_error(
        self,
        record: ErrorRecord,
        entry: ManifestEntry | None,
        failed: bool = False,
        *,
        claim: Claim | None = None,
        supersedes: bool = False,
    ) -> bool:
        try:
            finished = await self._ledger.finish(record, entry, claim)
        except Exception as exc:
            log.error("could not record error %s: %s", record.message, exc)
            return False
        if not finished.ok:
            log.warning("error for %s not recorded: %s", record.file_path, finished.refused)
            return False
        saved = finished.record
        assert isinstance(saved, ErrorRecord)
        self._hooks.on_error(saved, failed, supersedes)
        return True
