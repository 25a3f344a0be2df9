"""The per-file pipeline: rule → breaker → inspect → ledger look-up → action (retry) → ledger
finish → post-action.

Order matters for exactly-once: the output is written before the record commits, and the
post-action (move/delete) runs only after the record committed (`post_pending` until then).
A finish the ledger refuses (the claim on the file was lost) leaves the file to its new owner.
`process_batch` does the work up to the actions' outputs and returns the rest (records, then
post-actions) as a *tail* the dispatcher runs while the worker takes its next files.
Where the post-action puts the file is decided before the commit, so the record and the result
file name the final path; after a crash, `post_pending` completes that same move.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import random
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from obtui.config.model import RuleConfig, RunnerConfig
from obtui.engine.actions.base import ActionContext, ActionResult
from obtui.engine.errors import ProcessingError
from obtui.engine.jobs import Job
from obtui.engine.pipeline.breaker import CircuitBreaker
from obtui.engine.pipeline.dispatcher import Dispatcher
from obtui.engine.pipeline.metrics import MetricsCollector
from obtui.engine.pipeline.note_pool import NoteProcesses
from obtui.engine.pipeline.patterns import Matcher
from obtui.engine.pipeline.post_steps import PostSteps, moved
from obtui.engine.pipeline.work import BUDGET, Admitted, Done, Pace, Seen, run_batch, unrun
from obtui.engine.records import error_record, manifest_entry, success_record
from obtui.engine.seams import Claim, OutcomeLedger
from obtui.tracking.records import ErrorRecord, ManifestEntry, ManifestStatus, Severity, SuccessRecord

log = logging.getLogger("obtui.processor")

WAITS_ON_BREAKER = "the file waits for the rule's circuit breaker; it runs again when a trial succeeds"


@dataclass
class Hooks:
    """How the processor tells the engine what happened (all called on the engine loop)."""

    # (record, the file's manifest entry before it: the outcome it supersedes, see `superseded`)
    on_success: Callable[[SuccessRecord, ManifestEntry | None], None]
    # (record, settled the file as failed, the file's manifest entry before it)
    on_error: Callable[[ErrorRecord, bool, ManifestEntry | None], None]
    on_breaker_open: Callable[[str], None]


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
        self.pace = Pace()  # which command rules are quick enough to batch
        self._pool = ThreadPoolExecutor(256, "obtui-work")  # a thread per busy worker, made on demand
        self.notes = NoteProcesses(lambda: min(runner().note_processes, runner().concurrency))
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

    def close(self) -> None:
        """Shutting down: cancel the retry and breaker timers, let the worker threads end."""
        for t in self._timers:
            t.cancel()
        self._timers.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.notes.close()

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

    async def process_batch(self, items: list[tuple[Job, Claim | None]]) -> Awaitable[None] | None:
        """Process jobs up to their actions' outputs (in one hop to a worker thread), each holding
        its claim. Returns the tail still to run (records, then post-actions), or None when
        nothing is left to do. Never raises except CancelledError."""
        plain: list[tuple[Admitted, Done]] = []
        tails: list[Awaitable[None]] = []
        todo = items
        loop = asyncio.get_running_loop()
        while todo:
            admitted = [a for job, claim in todo if (a := self._admit(job, claim)) is not None]
            if not admitted:
                break
            stop, notes = threading.Event(), self.notes.wanted(admitted)
            try:
                done = await loop.run_in_executor(
                    self._pool,
                    run_batch,
                    admitted,
                    self._ledger,
                    self._runner().max_file_size,
                    stop,
                    BUDGET,
                    notes,
                )
            except asyncio.CancelledError:
                stop.set()
                for a in admitted:
                    a.child.cancel()  # shutting down: leave nothing running
                raise
            for a, d in zip(admitted, done, strict=False):
                self._conclude(a, d, plain, tails)
            todo = unrun(admitted[len(done) :])
            if todo and (not done or done[-1].error is None):  # out of time: requeued once released
                for job, _ in todo:
                    self._dispatcher().requeue_front(job)
                break  # (after a failure, the rest ask their breaker again)
        return self._finish_batch(plain, tails) if plain or tails else None

    def _admit(self, job: Job, claim: Claim | None) -> Admitted | None:
        matcher = self._matcher()
        match = matcher.folder_rule(job.bucket, job.rel) if job.is_dir else matcher.match(job.bucket, job.rel)
        if match is None:
            return None  # ignored, or no rule matches any more (config reloaded)
        job.rule = match.rule.name
        breaker = self.breaker(match.rule.name)
        if not breaker.allow():
            self._park(job, breaker)
            return None
        return Admitted(job, claim, match, breaker, matcher)

    def _conclude(
        self, a: Admitted, d: Done, plain: list[tuple[Admitted, Done]], tails: list[Awaitable[None]]
    ) -> None:
        """Tell the breaker at once (before the next file asks it); queue what is left to do."""
        job, rule, breaker = a.job, a.match.rule, a.breaker
        if rule.action == "command" and d.ctx is not None:
            self.pace.ran(rule.name, (d.t1 - d.t0) * 1000)
        if d.error is not None:
            seen = Seen(d.facts, d.entry, d.looked_up)
            tails.append(self._failed(job, rule, breaker, d.error, seen, d.t0, a.claim))
        elif d.ctx is None or d.result is None:
            breaker.neutral()
            assert d.entry is not None
            if d.entry.status == ManifestStatus.POST_PENDING:
                tails.append(self.post.resume(job, rule, d.entry))
            else:
                self._metrics.skipped_unchanged += 1
        else:
            self._release(breaker.success())
            if rule.result_json or d.result.warnings or rule.on_success.kind != "keep":
                tails.append(self._succeeded(job, rule, d.ctx, d.result, d.t0, a.claim, d.entry))
            else:
                plain.append((a, d))

    async def _finish_batch(self, plain: list[tuple[Admitted, Done]], tails: list[Awaitable[None]]) -> None:
        """Record the plain successes (kept in place, nothing else to write) in one ledger call,
        then run the other files' tails."""
        if plain:
            items = []
            for a, d in plain:
                assert d.ctx is not None and d.result is not None
                record = success_record(d.ctx, d.result, (d.t1 - d.t0) * 1000)
                entry = manifest_entry(
                    a.job.path, a.job.bucket, d.facts, ManifestStatus.DONE, a.match.rule.name
                )
                items.append((record, entry, a.claim))
            try:
                finished = await self._ledger.finish_many(items)
            except Exception as exc:  # the store failed: nothing is recorded, so the files are redone
                log.error("could not record %d successes: %s", len(items), exc)
                for a, _ in plain:
                    err = error_record(exc, path=a.job.path, bucket=a.job.bucket, rule=a.match.rule.name)
                    self._hooks.on_error(err, False, None)
                finished = []
            for (a, d), (record, _, _), fin in zip(plain, items, finished, strict=False):
                if not fin.ok:
                    log.warning("success for %s not recorded: %s", a.job.path, fin.refused)
                    continue
                assert isinstance(fin.record, SuccessRecord) and d.result is not None
                self._metrics.outcome(True, record.duration_ms, d.result.bytes_processed, d.entry)
                self._hooks.on_success(fin.record, d.entry)
        if tails:
            await asyncio.gather(*tails)

    async def _succeeded(
        self,
        job: Job,
        rule: RuleConfig,
        ctx: ActionContext,
        result: ActionResult,
        t0: float,
        claim: Claim | None,
        prior: ManifestEntry | None = None,
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
                error_record(exc, path=job.path, bucket=job.bucket, rule=rule.name), False, None
            )
            return
        if not finished.ok:
            log.warning("success for %s not recorded: %s", job.path, finished.refused)
            await self.post.abandon(plan, rule)
            return
        saved = finished.record
        assert isinstance(saved, SuccessRecord)
        self._metrics.outcome(True, duration_ms, result.bytes_processed, prior)
        self._hooks.on_success(saved, prior)
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
        if status == ManifestStatus.POST_PENDING:
            await self.post.carry_out(job, rule, plan, plan_error, failed=False)

    def _failed(
        self,
        job: Job,
        rule: RuleConfig,
        breaker: CircuitBreaker[Job],
        exc: Exception,
        seen: Seen,
        t0: float,
        claim: Claim | None,
    ) -> Awaitable[None]:
        """Tell the breaker now (before this worker's next file asks it); the rest is the tail."""
        for_breaker = not isinstance(exc, ProcessingError) or exc.counts_for_breaker
        if for_breaker:
            if breaker.failure():
                self._hooks.on_breaker_open(rule.name)
        else:
            breaker.neutral()
        return self._settle_failure(job, rule, breaker, exc, seen, t0, claim, for_breaker)

    async def _settle_failure(
        self,
        job: Job,
        rule: RuleConfig,
        breaker: CircuitBreaker[Job],
        exc: Exception,
        seen: Seen,
        t0: float,
        claim: Claim | None,
        for_breaker: bool,
    ) -> None:
        transient = isinstance(exc, ProcessingError) and exc.transient
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
        if not await self._record_error(record, entry, failed=True, claim=claim, prior=prior):
            await self.post.abandon(plan, rule)  # not on record (or no longer ours): no move
            return
        self._metrics.outcome(False, duration_ms, 0, prior)
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
        prior: ManifestEntry | None = None,
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
        self._hooks.on_error(saved, failed, prior)
        return True
