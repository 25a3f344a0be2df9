"""The per-file work that runs in a worker thread: inspect the file, look it up in the ledger,
and run its action (write the note, or spawn the command and wait for it).

A batch of files goes to one thread in one hop (`run_batch`): in a burst, the hop to the thread
and back costs about as much as a small note, so it is paid once per batch, not per file.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from obtui import __version__
from obtui.config.model import RuleConfig
from obtui.engine.actions.base import ActionContext, ActionResult
from obtui.engine.actions.command import run_command_sync
from obtui.engine.actions.folder_summary import write_folder_note
from obtui.engine.actions.note import write_note
from obtui.engine.actions.spawn import Child
from obtui.engine.files.facts import FileFacts, inspect_file
from obtui.engine.files.outputs import resolve_output_dir
from obtui.engine.jobs import Job
from obtui.engine.pipeline.breaker import CircuitBreaker
from obtui.engine.pipeline.patterns import Match, Matcher
from obtui.engine.records import now_iso
from obtui.engine.seams import Claim, OutcomeLedger

if TYPE_CHECKING:
    from obtui.engine.pipeline.note_pool import NoteProcesses
from obtui.tracking.records import ManifestEntry, ManifestStatus


@dataclass
class Seen:
    """What processing learned about a file before an outcome: its facts and manifest entry."""

    facts: FileFacts | None = None
    entry: ManifestEntry | None = None
    looked_up: bool = False  # `entry` was read (None then means: no entry)


@dataclass
class Admitted:
    """A job its rule and breaker let through, on its way to a thread."""

    job: Job
    claim: Claim | None
    match: Match
    breaker: CircuitBreaker[Job]
    matcher: Matcher | None = None  # for a folder summary: what is never its input
    child: Child = field(default_factory=Child)  # the command's program, when it runs one


@dataclass
class Done:
    """What the thread did with one file: the facts, the manifest entry, and the action's context
    and result (None when the content is unchanged), or the exception it raised. `t0`/`t1` are
    `perf_counter` readings around this file's own work."""

    t0: float
    t1: float
    facts: FileFacts | None = None
    entry: ManifestEntry | None = None
    ctx: ActionContext | None = None
    result: ActionResult | None = None
    error: Exception | None = None
    looked_up: bool = False  # `entry` was read (None then means: no entry)
    remote_stack: str | None = None  # `error`'s stack, when a note process raised it


T = TypeVar("T")
QUICK_MS = 50.0  # a command rule this quick (on average) may share a hop with other files
BUDGET = 0.25  # seconds a thread works through one batch before handing the rest back


class Pace:
    """How long each command rule's program takes, on average (recent runs weigh more): only
    a quick one is batched, so a slow program never holds the claims of files behind it."""

    def __init__(self) -> None:
        self._ms: dict[str, float] = {}

    def ran(self, rule: str, ms: float) -> None:
        old = self._ms.get(rule)
        self._ms[rule] = ms if old is None else old * 0.8 + ms * 0.2

    def batchable(self, matcher: Matcher, job: Job) -> bool:
        """A file whose rule writes a note, or runs a program known to be quick."""
        if job.is_dir:
            return False
        match = matcher.match(job.bucket, job.rel)
        return match is not None and self.quick(match.rule)

    def quick(self, rule: RuleConfig) -> bool:
        """A rule whose files may share a hop: it writes a note, or runs a program known to be
        quick (a program not timed yet is not)."""
        if rule.action == "note":
            return True
        return self._ms.get(rule.name, QUICK_MS) < QUICK_MS


def unrun(items: list[Admitted]) -> list[tuple[Job, Claim | None]]:
    """Items the thread handed back without running them: a half-open breaker's trial among
    them did not happen, so the breaker may let the next one through."""
    for a in items:
        if a.breaker.state != "closed":
            a.breaker.neutral()
    return [(a.job, a.claim) for a in items]


def run_batch(
    items: list[Admitted],
    ledger: OutcomeLedger,
    max_size: int,
    stop: threading.Event,
    budget: float = BUDGET,
    notes: NoteProcesses | None = None,
) -> list[Done]:
    """Work through `items` in order (blocking: in a worker thread). Stops early, after the
    first failure (so the breaker hears of it before the next file runs), after `budget`
    seconds, or when `stop` is set: the answers are then fewer than the items, and the rest are
    the caller's again. With `notes`, a batch of notes is written by a note process when one is
    free (the ledger is still read here, in the engine)."""
    if notes is not None:
        found = ledger.lookup_many([a.job.path for a in items])
        entries = [found.get(a.job.path) for a in items]
        done = notes.run([(a.job, a.match, e) for a, e in zip(items, entries, strict=True)], max_size, budget)
        if done is not None:
            for d, e in zip(done, entries, strict=False):
                d.entry, d.looked_up = e, True
            return done
    return in_order(items, lambda item: run_one(item, ledger.lookup, max_size), budget, stop)


def in_order(
    items: Iterable[T], one: Callable[[T], Done], budget: float, stop: threading.Event | None = None
) -> list[Done]:
    """`one` for each item in order, stopping after the first failure, after `budget` seconds
    (at least one item runs), or once `stop` is set: a batch's pace, in a thread or a note
    process."""
    out: list[Done] = []
    end = time.perf_counter() + budget
    for item in items:
        if (stop is not None and stop.is_set()) or (out and time.perf_counter() > end):
            break
        done = one(item)
        out.append(done)
        if done.error is not None:
            break
    return out


def run_one(item: Admitted, lookup: Callable[[str], ManifestEntry | None], max_size: int) -> Done:
    """Inspect one file, look it up, and run its action unless its content is settled."""
    return work_on(item.job, item.match, lookup, max_size, item.matcher, item.child)


def work_on(
    job: Job,
    match: Match,
    lookup: Callable[[str], ManifestEntry | None],
    max_size: int,
    matcher: Matcher | None = None,
    child: Child | None = None,
) -> Done:
    """`run_one` for a job and its match (also what a note process runs: no matcher, no child)."""
    done = Done(time.perf_counter(), 0.0)
    try:
        done.facts = inspect_file(Path(job.path), Path(job.bucket), max_size, allow_dir=job.is_dir)
        done.entry, done.looked_up = lookup(job.path), True
        if not unchanged(done.entry, done.facts):
            ctx = done.ctx = context(job, match, done.facts, matcher)
            if match.rule.action == "note":
                done.result = write_folder_note(ctx) if done.facts.is_dir else write_note(ctx)
            else:
                done.result = run_command_sync(ctx, child or Child())
    except Exception as exc:
        done.error = exc
    done.t1 = time.perf_counter()
    return done


def unchanged(entry: ManifestEntry | None, facts: FileFacts) -> bool:
    """Nothing to do: this content is settled here with its output still present, or its record
    committed and only the post-action is left (a crash). A changed file, a moved or deleted one
    dropped again (consumed) and one whose recorded output is gone are processed."""
    from obtui.engine.pipeline.scanner import settled

    if entry is None or entry.sha256 != facts.sha256:
        return False
    return entry.status == ManifestStatus.POST_PENDING or settled(entry)


def context(job: Job, match: Match, facts: FileFacts, matcher: Matcher | None = None) -> ActionContext:
    bucket = Path(job.bucket)
    out = resolve_output_dir(bucket, Path(job.path), job.rel, match.rule.output_dir)
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
        if job.is_dir and matcher is not None
        else None,
    )
