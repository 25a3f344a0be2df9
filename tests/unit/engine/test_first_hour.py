"""Issue 13 (the first hour), engine points, on the real binary with real folders and processes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
from pathlib import Path

from tests.helpers import (
    db_rows,
    headless_stderr,
    obtui,
    runner_started,
    start_headless,
    success_count,
    toml_str,
    wait_for,
)


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


def _result(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(path.read_text())


def test_13_5_each_outcome_keeps_its_result_file_naming_the_final_path(tmp_path, buckets):
    inc, _, state = buckets
    cfg = _config(
        tmp_path,
        inc,
        '[[rules]]\nname = "bad"\npatterns = ["*.bad"]\naction = "command"\ncommand = ["false"]\n'
        'retries = 0\nresult_json = true\non_failure = "move:failed/"\n'
        '[[rules]]\nname = "gone"\npatterns = ["*.tmpdata"]\nresult_json = true\non_success = "delete"\n'
        '[[rules]]\nname = "blobs"\npatterns = ["*"]\nresult_json = true\non_success = "move:processed/"\n',
    )
    proc = start_headless(state, config=cfg)
    try:
        wait_for(lambda: runner_started(state, proc), what="runner start")
        wait_for(lambda: (state / "status.json").exists(), what="watching")
        # Files of one name, one after the other (each once the one before has been moved away).
        for name, folder, n in (("blob.bin", inc / "processed", 3), ("x.bad", inc / "failed", 2)):
            for i in range(n):
                (inc / name).write_bytes(b"%s %d" % (name.encode(), i))
                wait_for(
                    lambda f=folder, i=i, name=name: (
                        len(list(f.glob("*.result.json"))) == i + 1 and not (inc / name).exists()
                    ),
                    what=f"{name} {i} moved",
                )
        for i in range(2):
            (inc / "t.tmpdata").write_bytes(b"t %d" % i)
            wait_for(
                lambda i=i: (
                    len(list(inc.glob("t*.tmpdata.result.json"))) == i + 1
                    and not (inc / "t.tmpdata").exists()
                ),
                what=f"deleted {i}",
            )
    finally:
        _stop(proc)
    processed = inc / "processed"
    assert sorted(p.name for p in processed.iterdir()) == [
        "blob-1.bin", "blob-1.bin.result.json", "blob-2.bin", "blob-2.bin.result.json", "blob.bin",
        "blob.bin.result.json",
    ]  # fmt: skip
    for name in ("blob.bin", "blob-1.bin", "blob-2.bin"):
        doc = _result(processed / f"{name}.result.json")
        assert doc["source_path"] == str(processed / name) and doc["original_path"] == str(inc / "blob.bin")
        assert doc["final_status"] == "COMPLETED" and doc["post_action"] == "move"
        assert (processed / name).read_bytes() == b"blob.bin %d" % [
            "blob.bin",
            "blob-1.bin",
            "blob-2.bin",
        ].index(name)
    assert not (inc / "blob.bin.result.json").exists()  # nothing left at the old place
    recorded = sorted(r[0] for r in db_rows(state, "select file_path from successes where rule = 'blobs'"))
    assert recorded == sorted(str(processed / n) for n in ("blob.bin", "blob-1.bin", "blob-2.bin"))
    # Failures moved to failed/: the same, and the error records name the new place.
    failed = inc / "failed"
    for name in ("x.bad", "x-1.bad"):
        doc = _result(failed / f"{name}.result.json")
        assert doc["final_status"] == "FAILED" and doc["source_path"] == str(failed / name)
    errors = sorted(r[0] for r in db_rows(state, "select file_path from errors where failed_file = 1"))
    assert errors == [str(failed / "x-1.bad"), str(failed / "x.bad")]
    # Deleted files: each outcome's result file stays, under a free name, where the file was.
    assert not list(inc.glob("*.tmpdata"))
    docs = [_result(inc / n) for n in ("t.tmpdata.result.json", "t-1.tmpdata.result.json")]
    assert all(d["post_action"] == "delete" and d["source_path"] == str(inc / "t.tmpdata") for d in docs)
    assert {d["sha256"] for d in docs} == {hashlib.sha256(b"t %d" % i).hexdigest() for i in range(2)}
    # Every manifest entry ended consumed: nothing left to do.
    assert {r[0] for r in db_rows(state, "select status from manifest")} == {"consumed"}


def test_13_5_resume_completes_the_move_to_the_recorded_path(tmp_path, buckets):
    """A crash after the record committed and before the move: the next start moves the file to
    the path the record names (not to a name picked afresh)."""
    from obtui.config.model import PostAction
    from obtui.engine.actions.post import plan_post, release
    from obtui.tracking.records import ManifestEntry, ManifestStatus, SuccessRecord
    from obtui.tracking.sqlite_store import SQLiteStore

    inc, _, state = buckets
    cfg = _config(
        tmp_path, inc, '[[rules]]\nname = "blobs"\npatterns = ["*"]\non_success = "move:processed/"\n'
    )
    src = inc / "blob.bin"
    src.write_bytes(b"payload")
    (inc / "processed").mkdir()
    (inc / "processed" / "blob.bin").write_bytes(b"an earlier one")
    plan = plan_post(src, inc, PostAction("move", "processed/"))
    release(plan)
    assert plan.final == inc / "processed" / "blob-1.bin"
    (inc / "processed" / "blob.bin").unlink()  # a fresh plan would now pick blob.bin
    sha = hashlib.sha256(b"payload").hexdigest()
    st = src.stat()
    store = SQLiteStore(state)
    store.commit_success(
        SuccessRecord(
            timestamp="2026-12-01T00:00:00.000Z", file_path=str(plan.final), watch_dir=str(inc), rule="blobs",
            action="note", output_path=None, sha256=sha,
        ),
        ManifestEntry(
            str(src), str(inc), sha, ManifestStatus.POST_PENDING, "2026-12-01T00:00:00.000Z", st.st_size,
            st.st_mtime_ns, st.st_ino, "blobs",
        ),
    )  # fmt: skip
    store.close()
    r = obtui("--once", "--config", str(cfg), "--state-dir", str(state))
    assert r.returncode == 0, r.stderr
    assert not src.exists() and (inc / "processed" / "blob-1.bin").read_bytes() == b"payload"
    assert not (inc / "processed" / "blob.bin").exists()
    assert db_rows(state, "select status from manifest") == [("consumed",)]
    assert db_rows(state, "select count(*) from successes") == [(1,)]  # not processed twice


def test_13_8_bucket_added_by_reload_waits_for_the_other_runner(tmp_path, buckets):
    inc, other, state = buckets
    first = start_headless(state, inc)
    cfg = _config(tmp_path, other, "")
    second_state = tmp_path / "state2"
    second = start_headless(second_state, config=cfg)
    try:
        wait_for(lambda: runner_started(state, first), what="first runner")
        wait_for(lambda: runner_started(second_state, second), what="second runner")
        wait_for(lambda: (second_state / "status.json").exists(), what="second watching")
        cfg.write_text(cfg.read_text() + f"[[buckets]]\npath = {toml_str(inc)}\n")  # a reload adds inc

        def refused() -> bool:
            out = obtui("--errors", "--state-dir", str(second_state)).stdout
            return f"pid {first.pid}, state dir {state}" in out

        wait_for(refused, what="the refusal on record")
        (inc / "a.txt").write_text("a\n")
        wait_for(lambda: (inc / "a.obs.md").exists(), what="the first runner processes it")
        assert success_count(second_state) == 0
        _stop(first)
        (inc / "b.txt").write_text("b\n")
        wait_for(lambda: (inc / "b.obs.md").exists(), what="the second runner took the bucket over")
    finally:
        if first.poll() is None:
            _stop(first)
        _stop(second)
    # While the first held the bucket, the second did not touch it.
    assert db_rows(state, "select count(*) from successes where file_path like '%a.txt'") == [(1,)]
    assert db_rows(state, "select count(*) from successes where file_path like '%b.txt'") == [(0,)]
