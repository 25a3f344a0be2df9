"""watchdog's move grouper with obtui's cookie count (`move_index`): a file moved in from outside
still arrives as moved in, a rename inside the bucket still pairs its two halves, and a burst
of moves-in does not make the grouper scan its queue."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from obtui.engine.pipeline import move_index
from obtui.engine.pipeline.watcher import BucketWatcher, RawEvent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify only")


async def _watch(bucket: Path, events: list[RawEvent]) -> BucketWatcher:
    w = BucketWatcher(
        str(bucket), recursive=True, poll_seconds=0, loop=asyncio.get_running_loop(), sink=events.extend
    )
    w.start()
    assert not w.polling
    return w


async def _until(cond, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + 10
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def test_moves_in_and_renames_inside_are_told_apart(tmp_path: Path) -> None:
    bucket, outside = tmp_path / "bucket", tmp_path / "outside"
    bucket.mkdir()
    outside.mkdir()
    events: list[RawEvent] = []
    w = await _watch(bucket, events)
    try:
        assert move_index.install(), "the index is in place for this watchdog"
        (outside / "in.txt").write_text("x")
        os.rename(outside / "in.txt", bucket / "in.txt")
        await _until(lambda: any(e.kind == "moved_in" for e in events), "the move in")
        assert [(e.kind, e.path) for e in events] == [("moved_in", str(bucket / "in.txt"))]
        events.clear()
        os.rename(bucket / "in.txt", bucket / "renamed.txt")
        await _until(lambda: len(events) >= 2, "both halves of the rename")
        assert [(e.kind, e.path) for e in events] == [
            ("deleted", str(bucket / "in.txt")),
            ("moved_in", str(bucket / "renamed.txt")),
        ], "a rename inside the bucket is still one paired move"
    finally:
        w.stop()


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times watchdog's delayed queue is scanned from the front (one entry a scan)."""
    from watchdog.utils.delayed_queue import DelayedQueue

    counted: list[int] = []
    original = DelayedQueue._index_and_item

    def counting(self, predicate):  # type: ignore[no-untyped-def]
        counted.append(1)
        return original(self, predicate)

    monkeypatch.setattr(DelayedQueue, "_index_and_item", counting)
    return counted


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """(a bucket, a folder outside it)."""
    bucket, outside = tmp_path / "bucket", tmp_path / "outside"
    bucket.mkdir()
    outside.mkdir()
    return bucket, outside


async def _staged_watch(bucket: Path, outside: Path, n: int) -> tuple[list[RawEvent], BucketWatcher]:
    """`n` files waiting outside the bucket (f0.txt ...), and a watcher on the bucket."""
    for i in range(n):
        (outside / f"f{i}.txt").write_text("x")
    events: list[RawEvent] = []
    return events, await _watch(bucket, events)


async def test_a_burst_of_moves_in_arrives_whole_without_queue_scans(
    folders: tuple[Path, Path], scans: list[int]
) -> None:
    bucket, outside = folders
    n = 500
    events, w = await _staged_watch(bucket, outside, n)
    try:
        for i in range(n):
            os.rename(outside / f"f{i}.txt", bucket / f"f{i}.txt")
        await _until(lambda: len(events) >= n, f"{n} moves in")
        assert sorted(e.path for e in events) == sorted(str(bucket / f"f{i}.txt") for i in range(n))
        assert {e.kind for e in events} == {"moved_in"}
        assert not scans, "no IN_MOVED_FROM to pair with: the grouper's queue is never scanned"
    finally:
        w.stop()


async def test_notes_renamed_into_place_during_a_burst_pair_without_queue_scans(
    folders: tuple[Path, Path], scans: list[int]
) -> None:
    """The note written next to each file of a burst (a temporary name renamed to the note) is a
    rename inside the bucket: its IN_MOVED_FROM sits at the end of a long queue, behind the
    burst, and is found there, not by scanning the queue from the front."""
    bucket, outside = folders
    n = 300
    events, w = await _staged_watch(bucket, outside, n)
    try:
        for i in range(n):
            os.rename(outside / f"f{i}.txt", bucket / f"f{i}.txt")
            (bucket / f".f{i}.tmp").write_text("note")
            os.rename(bucket / f".f{i}.tmp", bucket / f"f{i}.obs.md")
        notes = {str(bucket / f"f{i}.obs.md") for i in range(n)}
        await _until(lambda: {e.path for e in events if e.kind == "moved_in"} >= notes, "every note")
        moved_in = [e.path for e in events if e.kind == "moved_in"]
        assert sorted(moved_in) == sorted([str(bucket / f"f{i}.txt") for i in range(n)] + list(notes))
        deleted = {e.path for e in events if e.kind == "deleted"}
        assert deleted == {str(bucket / f".f{i}.tmp") for i in range(n)}, "each rename stays one paired move"
        assert not scans, "each rename's first half was found at the queue's end"
    finally:
        w.stop()
