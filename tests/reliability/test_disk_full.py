"""Disk full: the rule's output folder is a tiny tmpfs. Filling it must leave no partial output, put
System errors on record, open the breaker, and, once space is freed, every file must end done."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from obtui.config.model import RuleConfig
from obtui.engine.actions.note_render import FOOTER
from tests.helpers import (
    db_rows,
    engine_idle,
    make_config,
    move_into,
    quick_full,
    running_engine,
    stage_files,
    success_count,
    wait_for,
)


@contextlib.contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    folder.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root / CAP_SYS_ADMIN): {r.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _remount(folder: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(folder)], check=True, capture_output=True)


def _check_outputs_complete(out: Path) -> list[Path]:
    """Every file in the output folder is a complete note; no temp or partial file is left."""
    files = sorted(out.iterdir())
    strays = [p.name for p in files if not p.name.endswith(".obs.md")]
    assert not strays, f"temp/partial files left in the output folder: {strays[:10]}"
    for p in files:
        text = p.read_text()
        assert text.startswith("---\n") and text.rstrip("\n").endswith(FOOTER), f"partial note {p.name}"
    return files


@quick_full("n", 300, 2_000)
def test_disk_full_no_partial_outputs_and_all_done_after_space_freed(n, tmp_path):
    """When the output disk fills up, System errors are recorded, no partial or temp output is left, and after space is freed the breaker half-opens and every file ends with a success record."""
    bucket, staging, state = tmp_path / "bucket", tmp_path / "staging", tmp_path / "state"
    bucket.mkdir()
    files = stage_files(staging, n)
    with tmpfs(tmp_path / "out", "512k") as out:
        rule = RuleConfig(name="notes", patterns=("*.txt",), output_dir=str(out))
        config = make_config([bucket], [rule], breaker_threshold=3, breaker_reset_seconds=0.5)
        with running_engine(config, state) as engine:
            moved = move_into(files, bucket)
            wait_for(
                lambda: (
                    db_rows(state, "select count(*) from errors where category = 'System'")[0][0] >= 1
                    and any(b.state != "closed" for b in engine.snapshot().breakers)
                ),
                timeout=60,
                what="disk full: System errors and an open breaker",
            )
            # Hold the workers so no half-open trial is writing while we look.
            engine.pause()
            wait_for(lambda: engine.snapshot().queue.processing == 0, what="in-flight files finished")
            done_when_full = success_count(state)
            assert 0 < done_when_full < n
            notes = _check_outputs_complete(out)
            assert len(notes) == done_when_full  # one complete note per success record, no more
            err = db_rows(state, "select json from errors where category = 'System' limit 1")[0][0]
            assert "ENOSPC" in err

            _remount(out, "64m")  # free space
            engine.resume()
            wait_for(
                lambda: engine_idle(engine) and all(b.state == "closed" for b in engine.snapshot().breakers),
                timeout=60 + n / 50,
                what="breaker closed and nothing left to do",
            )
            assert success_count(state) == n, "every file must end done once space is back"
        notes = _check_outputs_complete(out)
    assert db_rows(state, "select count(*), count(distinct file_path) from successes") == [(n, n)]
    assert {r[0] for r in db_rows(state, "select file_path from successes")} == {str(p) for p in moved}
    assert len(notes) == n
    assert db_rows(state, "select status, count(*) from manifest group by status") == [("done", n)]
