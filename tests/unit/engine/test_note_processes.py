"""Note processes: in a burst, batches of notes are written by helper processes; nothing is lost
or recorded twice when one dies, they die with the engine, and they ignore the signals sent to
the whole process group (the engine alone decides when they stop)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from obtui.config.model import RuleConfig
from obtui.engine.jobs import Job
from obtui.engine.pipeline.breaker import CircuitBreaker
from obtui.engine.pipeline.note_pool import MIN_BATCH, NoteProcesses, RemoteStack
from obtui.engine.pipeline.patterns import Match
from obtui.engine.pipeline.work import Admitted
from tests.helpers import (
    make_config,
    move_into,
    outcome_counts,
    running_engine,
    stage_files,
    toml_str,
    wait_for,
)

NOTE = RuleConfig(name="notes", patterns=("*.txt",), action="note")


def _notes(engine: Any) -> NoteProcesses:
    return engine._parts.processor.notes  # type: ignore[no-any-return]


def _drop_until_a_process_wrote(engine: Any, tmp: Path, bucket: Path, state: Path) -> int:
    """Drop bursts of 40 files until a note process has written a batch; returns files dropped."""
    dropped = 0
    notes = _notes(engine)
    while notes.batches == 0:
        assert dropped < 2000, "no batch went to a note process"
        move_into(stage_files(tmp / "stage", 40, start=dropped), bucket)
        dropped += 40
        wait_for(lambda n=dropped: outcome_counts(state)[1] == n, what=f"{dropped} files recorded")
    return dropped


def _every_file_once(bucket: Path, state: Path, n: int) -> None:
    successes, distinct, errors = outcome_counts(state)
    assert (successes, distinct, errors) == (n, n, 0)
    notes = sorted(p.name for p in bucket.glob("*.obs.md"))
    assert len(notes) == n and len(set(notes)) == n


def test_a_burst_is_written_by_note_processes_and_a_killed_one_loses_nothing(tmp_path: Path) -> None:
    bucket, state = tmp_path / "in", tmp_path / "state"
    bucket.mkdir()
    with running_engine(make_config([bucket], [NOTE], concurrency=2), state) as engine:
        notes = _notes(engine)
        dropped = _drop_until_a_process_wrote(engine, tmp_path, bucket, state)
        wait_for(lambda: len(notes.pids()) == 2, what="two note processes")
        victim = notes.pids()[0]
        files = stage_files(tmp_path / "stage", 400, start=dropped)
        move_into(files, bucket)
        os.kill(victim, signal.SIGKILL)
        dropped += len(files)
        wait_for(lambda: outcome_counts(state)[1] == dropped, what="every file recorded")
        assert notes.deaths == 1, "the killed process was noticed once"
        # The next burst starts a new one in its place.
        more = stage_files(tmp_path / "stage", 200, start=dropped)
        move_into(more, bucket)
        dropped += len(more)
        wait_for(lambda: outcome_counts(state)[1] == dropped, what="the next burst recorded")
        assert victim not in notes.pids()
    _every_file_once(bucket, state, dropped)
    assert notes.pids() == [], "the note processes ended with the engine"


def test_without_note_processes_no_process_is_started(tmp_path: Path) -> None:
    bucket, state = tmp_path / "in", tmp_path / "state"
    bucket.mkdir()
    with running_engine(make_config([bucket], [NOTE], concurrency=2, note_processes=0), state) as engine:
        move_into(stage_files(tmp_path / "stage", 300), bucket)
        wait_for(lambda: outcome_counts(state)[1] == 300, what="every file recorded")
        assert _notes(engine).pids() == [] and _notes(engine).batches == 0
    _every_file_once(bucket, state, 300)


def _batch(paths: list[Path], bucket: Path) -> list[Admitted]:
    breaker: CircuitBreaker[Job] = CircuitBreaker("notes", 5, 60)
    return [
        Admitted(Job(str(p), str(bucket), p.name, "scan"), None, Match(NOTE, "*.txt"), breaker) for p in paths
    ]


def test_an_error_in_a_note_process_comes_back_with_its_stack(tmp_path: Path) -> None:
    bucket = tmp_path / "in"
    files = stage_files(bucket, MIN_BATCH)
    pool = NoteProcesses(lambda: 1)
    try:
        batch = _batch(files, bucket)
        wait_for(lambda: pool.wanted(batch) is pool, what="a note process ready")
        gone = batch[0].job
        os.unlink(gone.path)
        done = pool.run([(a.job, a.match, None) for a in batch], 1 << 20, 5.0)
        assert done is not None and len(done) == 1, "it stops at the first failure, as a thread does"
        err = done[0].error
        assert type(err).__name__ == "FileVanishedError" and gone.path in str(err)
        assert isinstance(err.__cause__, RemoteStack) and "inspect_file" in str(err.__cause__)
        rest = pool.run([(a.job, a.match, None) for a in batch[1:]], 1 << 20, 5.0)
        assert rest is not None and all(d.error is None and d.result is not None for d in rest)
        assert all(Path(str(d.result.output_path)).is_file() for d in rest if d.result)
    finally:
        pool.close()
        pool.wait_closed()
    assert pool.pids() == []


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            found |= {int(x) for x in Path(f"/proc/{pid}/task/{task}/children").read_text().split()}
        except OSError:
            pass
    return found


def _is_note_process(pid: int) -> bool:
    try:
        return b"note_worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", ["group SIGTERM", "kill -9"])
def test_note_processes_end_with_the_engine(tmp_path: Path, how: str) -> None:
    bucket, state = tmp_path / "in", tmp_path / "state"
    bucket.mkdir()
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f"[runner]\nconcurrency = 2\nnote_processes = 2\n[[buckets]]\npath = {toml_str(bucket)}\n"
        '[[rules]]\nname = "notes"\npatterns = ["*.txt"]\naction = "note"\n'
    )
    argv = [sys.executable, "-m", "obtui", "--headless", "--config", str(cfg), "--state-dir", str(state)]
    with open(tmp_path / "stderr.log", "wb") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        wait_for(
            lambda: (state / "status.json").exists() and '"running"' in (state / "status.json").read_text()
        )
        dropped = 0

        def workers() -> set[int]:
            return {c for c in _children(proc.pid) if _is_note_process(c)}

        while len(workers()) < 2:
            assert dropped < 4000, "no note process started"
            move_into(stage_files(tmp_path / "stage", 100, start=dropped), bucket)
            dropped += 100
            wait_for(lambda n=dropped: outcome_counts(state)[1] == n, what=f"{dropped} files recorded")
        pids = workers()
        move_into(stage_files(tmp_path / "stage", 300, start=dropped), bucket)
        if how == "kill -9":
            proc.kill()
        else:  # what systemd and a terminal do: the whole group hears it
            os.killpg(proc.pid, signal.SIGTERM)
        code = proc.wait(60)
        assert code == (-signal.SIGKILL if how == "kill -9" else 0), (tmp_path / "stderr.log").read_text()
        wait_for(lambda: not any(_alive(p) for p in pids), timeout=10, what="note processes gone")
        if how != "kill -9":  # a graceful stop: nothing is recorded without its note
            rows = outcome_counts(state)
            assert rows[0] == rows[1] and rows[2] == 0
            notes = {p.name for p in bucket.glob("*.obs.md")}
            assert len(notes) >= rows[1]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
