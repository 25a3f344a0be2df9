"""Issue 13 (the first hour), engine points, on the real binary with real folders and processes."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

from tests.helpers import db_rows, headless_stderr, obtui, runner_started, start_headless, toml_str, wait_for


def _config(tmp_path: Path, bucket: Path, rules: str) -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"[[buckets]]\npath = {toml_str(bucket)}\n{rules}")
    return cfg


def _stop(proc) -> None:  # type: ignore[no-untyped-def]
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    assert proc.returncode == 0, headless_stderr(proc)


def test_13_1_folder_summary_ignores_own_notes(tmp_path, buckets):
    inc, _, state = buckets
    cfg = _config(
        tmp_path,
        inc,
        '[[rules]]\nname = "all"\npatterns = ["*"]\nfolder_summary = true\nresult_json = true\n',
    )
    # A folder as a previous run left it: obtui's notes and result files beside the inputs (with
    # TODOs of their own) and a hidden file. Only readme.txt and src/main.py count.
    proj = tmp_path / "staging" / "proj"
    (proj / "src").mkdir(parents=True)
    (proj / "readme.txt").write_text("hello\nTODO: one thing\n")
    (proj / "src" / "main.py").write_text("print('hi')\n")
    (proj / "readme.obs.md").write_text("# readme\n1: TODO: one thing\nTODO again\n")
    (proj / "src" / "main.obs.md").write_text("# main TODO\n")
    (proj / "readme.txt.result.json").write_text('{"note": "TODO"}\n')
    (proj / ".hidden").write_text("TODO\n")
    proc = start_headless(state, config=cfg)
    try:
        wait_for(lambda: runner_started(state, proc), what="runner start")
        wait_for(lambda: (state / "status.json").exists(), what="watching")
        os.rename(proj, inc / "proj")
        summary = inc / "proj.obs.md"
        wait_for(summary.exists, what="the folder summary")
        wait_for(lambda: (inc / "proj" / "src" / "main.py.result.json").exists(), what="inner files done")
    finally:
        _stop(proc)
    text = summary.read_text()
    assert "\nfiles: 2\n" in text and "\ngrep_matches: 1\n" in text, text
    assert "readme.txt" in text and "main.py" in text
    for own in ("readme.obs.md", "main.obs.md", "result.json", ".hidden"):
        assert own not in text.split("\n---\n", 1)[1], (own, text)


def test_13_7_file_whose_output_was_deleted_is_processed_again(tmp_path, buckets):
    inc, _, state = buckets
    (inc / "a.txt").write_text("TODO keep me\n")
    (inc / "b.txt").write_text("untouched\n")

    def once() -> None:
        r = obtui("--once", "--state-dir", str(state), str(inc))
        assert r.returncode == 0, r.stderr

    def successes(name: str) -> int:
        return db_rows(state, "select count(*) from successes where file_path = ?", str(inc / name))[0][0]

    once()
    assert successes("a.txt") == 1 and successes("b.txt") == 1
    once()  # the manifest matches and the notes exist: nothing again
    assert successes("a.txt") == 1 and successes("b.txt") == 1
    # The bucket deleted and created again, the same file dropped in: its note is gone, so it runs.
    shutil.rmtree(inc)
    inc.mkdir()
    (inc / "a.txt").write_text("TODO keep me\n")
    once()
    assert (inc / "a.obs.md").exists() and successes("a.txt") == 2
    # Live (the processor's own check, not only the scan's): delete a note, write the same content.
    proc = start_headless(state, inc)
    try:
        wait_for(lambda: runner_started(state, proc), what="runner start")
        wait_for(lambda: (state / "status.json").exists(), what="watching")
        (inc / "a.obs.md").unlink()
        (inc / "a.txt").write_text("TODO keep me\n")
        wait_for(lambda: (inc / "a.obs.md").exists(), what="the note written again")
        wait_for(lambda: successes("a.txt") == 3, what="a third success record")
    finally:
        _stop(proc)


def test_13_8_second_runner_on_a_bucket_refuses_naming_the_first(tmp_path, buckets):
    inc, other, state = buckets
    cfg = _config(
        tmp_path,
        inc,
        '[[rules]]\nname = "count"\npatterns = ["*.txt"]\naction = "command"\n'
        f'command = ["sh", "-c", "echo run >> {tmp_path}/runs.log", "sh", "{{path}}"]\n'
        'on_success = "move:processed/"\n',
    )
    first = start_headless(state, config=cfg)
    try:
        wait_for(lambda: runner_started(state, first), what="first runner")
        # Another state dir, the same bucket (also through a symlink): refused, exit 2, naming the first.
        (tmp_path / "link").symlink_to(inc)
        for bucket in (inc, tmp_path / "link"):
            r = obtui("--headless", "--state-dir", str(tmp_path / "state2"), str(bucket), timeout=30)
            assert r.returncode == 2, r.stderr
            assert f"pid {first.pid}, state dir {state}" in r.stderr, r.stderr
            assert f"already processing the bucket {inc}" in r.stderr and "Traceback" not in r.stderr
        r = obtui("--once", "--config", str(cfg), "--state-dir", str(tmp_path / "state3"), timeout=30)
        assert r.returncode == 2 and f"pid {first.pid}" in r.stderr, r.stderr
        # Another bucket is fine; the refused runners left no lock behind on it.
        r = obtui("--once", "--state-dir", str(tmp_path / "state2"), str(other), timeout=30)
        assert r.returncode == 0, r.stderr
        for i in range(20):
            (inc / f"f{i}.txt").write_text(f"{i}\n")
        wait_for(lambda: len(list((inc / "processed").glob("*.txt"))) == 20, what="20 files moved")
    finally:
        _stop(first)
    assert (tmp_path / "runs.log").read_text().count("run") == 20
    # Once the first is gone, the bucket is free again.
    r = obtui("--once", "--state-dir", str(tmp_path / "state2"), str(inc), timeout=30)
    assert r.returncode == 0, r.stderr
