"""A bucket deleted while watched and created again, twice in a row, with files in sub-folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import db_rows, engine_idle, make_config, running_engine, success_count, wait_for

# watchdog 7 warns when a new folder's watch is added twice (its create event and its parent's
# rescan race); the second simply replaces the first. Not ours, and harmless.
pytestmark = pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning")


def _state_of(engine, bucket: Path) -> str | None:
    return next((b.state for b in engine.snapshot().buckets if b.path == str(bucket)), None)


def _file_access_errors(state: Path, bucket: Path) -> int:
    return db_rows(
        state,
        "select count(*) from errors where category = 'FileAccess' and watch_dir = ? and file_path is null",
        str(bucket),
    )[0][0]


def test_bucket_deleted_and_recreated_twice_is_recorded_and_watched_again(tmp_path):
    """A watched bucket that is deleted is recorded as a FileAccess error each time, and once created again it is watched again without a restart, files in new sub-folders included."""
    bucket, other, state = (tmp_path / "bucket").resolve(), (tmp_path / "other").resolve(), tmp_path / "state"
    bucket.mkdir()
    other.mkdir()
    expected: list[Path] = []

    def drop(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        expected.append(path)

    with running_engine(make_config([bucket, other]), state) as engine:
        drop(bucket / "a" / "b" / "first.txt", "first\n")
        wait_for(lambda: success_count(state) == 1, what="first file")
        for round_ in (1, 2):
            shutil.rmtree(bucket)
            wait_for(lambda: _state_of(engine, bucket) == "missing", what=f"round {round_}: missing")
            wait_for(
                lambda r=round_: _file_access_errors(state, bucket) == r, what=f"round {round_}: on record"
            )
            # The other bucket keeps working meanwhile.
            drop(other / f"meanwhile{round_}.txt", "meanwhile\n")
            # Created again, at once with content in a sub-folder (found by the start-up scan or by
            # events, whichever comes first, but only once) ...
            drop(bucket / "early" / f"e{round_}.txt", f"early {round_}\n")
            wait_for(lambda: _state_of(engine, bucket) == "watching", what=f"round {round_}: watching again")
            # ... then new sub-folders and files once it is watched (events only).
            drop(bucket / f"new{round_}" / "deeper" / f"late{round_}.txt", f"late {round_}\n")
            drop(bucket / f"top{round_}.txt", f"top {round_}\n")
            want = len(expected)
            wait_for(lambda w=want: success_count(state) >= w, timeout=30, what=f"round {round_}: processed")
        wait_for(lambda: engine_idle(engine), what="idle")
    assert db_rows(state, "select count(*), count(distinct file_path) from successes") == [
        (len(expected), len(expected))
    ]
    recorded = {r[0] for r in db_rows(state, "select file_path from successes")}
    assert recorded == {str(p) for p in expected}
    assert _file_access_errors(state, bucket) == 2
    for p in expected:
        if p.exists():  # the last round's files (the earlier ones went with the folder)
            assert (p.parent / (p.stem + ".obs.md")).exists(), p
