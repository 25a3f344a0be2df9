"""Acceptance 1-4 of the engine issue: real folders, real watchdog observers, real SQLite."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from obtui.config.model import PostAction, RuleConfig
from tests.helpers import db_rows, make_config, obtui, running_engine, success_count, wait_for, write_slowly


def _frontmatter(note: Path) -> dict[str, object]:
    text = note.read_text()
    assert text.startswith("---\n")
    head = text.split("\n---\n", 1)[0].splitlines()[1:]
    out: dict[str, object] = {}
    for line in head:
        if ":" in line and not line.startswith((" ", "-")):
            k, _, v = line.partition(":")
            v = v.strip()
            out[k] = json.loads(v) if v.startswith(('"', "[", "{")) or v[:1].isdigit() else v
    return out


def test_written_moved_and_folder_each_processed_once(buckets, tmp_path):
    inc, upl, state = buckets
    outside = tmp_path / "outside"
    outside.mkdir()
    with running_engine(make_config([inc, upl]), state) as engine:
        (inc / "written.txt").write_text("# Title\nTODO: write tests\nhello #project\n")
        (outside / "moved.txt").write_text("FIXME moved in\n")
        os.rename(outside / "moved.txt", upl / "moved.txt")
        folder = outside / "drop"
        (folder / "sub").mkdir(parents=True)
        (folder / "a.md").write_text("a TODO\n")
        (folder / "sub" / "b.txt").write_text("b\n")
        os.rename(folder, inc / "drop")
        wait_for(lambda: success_count(state) >= 4, what="4 successes")
        # Nothing more arrives afterwards (no duplicate runs for the same drop).
        wait_for(lambda: engine.snapshot().queue.settling == 0 and engine.snapshot().queue.pending == 0)
    rows = db_rows(state, "select file_path from successes order by file_path")
    paths = sorted(r[0] for r in rows)
    assert paths == sorted(
        str(p)
        for p in (
            inc / "written.txt",
            upl / "moved.txt",
            inc / "drop" / "a.md",
            inc / "drop" / "sub" / "b.txt",
        )
    )
    note = inc / "written.obs.md"
    fm = _frontmatter(note)
    assert fm["source"] == str(inc / "written.txt")
    assert fm["bucket"] == str(inc)
    assert fm["size"] == len("# Title\nTODO: write tests\nhello #project\n")
    assert len(str(fm["sha256"])) == 64
    assert fm["rule"] == "notes"
    body = note.read_text()
    assert "TODO: write tests" in body and "#project" in body
    assert (upl / "moved.obs.md").exists()
    assert (inc / "drop" / "sub" / "b.obs.md").exists()


def test_command_rule_copies_with_path(buckets, tmp_path):
    inc, _, state = buckets
    out = tmp_path / "copies"
    rule = RuleConfig(
        name="copy", patterns=("*.dat",), action="command", command=("cp", "{path}", str(out) + "/")
    )
    out.mkdir()
    with running_engine(make_config([inc], [rule]), state):
        (inc / "x.dat").write_bytes(b"\x00\x01payload")
        wait_for(lambda: (out / "x.dat").exists() and success_count(state) == 1, what="copy")
    assert (out / "x.dat").read_bytes() == b"\x00\x01payload"


def test_slow_writer_processed_once_after_last_chunk(buckets):
    inc, _, state = buckets
    with running_engine(make_config([inc], debounce_ms=300), state) as engine:
        path = inc / "slow.txt"
        write_slowly(path, [b"one\n", b"two\n", b"three TODO\n"], pause=1.0)
        wait_for(lambda: success_count(state) == 1, what="one success")
        wait_for(lambda: engine.snapshot().queue.settling == 0)
    rows = db_rows(state, "select sha256 from successes")
    import hashlib

    assert rows == [(hashlib.sha256(b"one\ntwo\nthree TODO\n").hexdigest(),)]


def test_burst_of_5000_files_none_twice(buckets):
    inc, _, state = buckets
    rule = RuleConfig(name="notes", patterns=("*.txt",), output_dir="notes")
    with running_engine(make_config([inc], [rule], concurrency=4), state):
        for i in range(5000):
            (inc / f"f{i:05d}.txt").write_text(f"file {i} TODO\n")
        wait_for(lambda: success_count(state) >= 5000, timeout=120, what="5000 successes")
    assert db_rows(state, "select count(*), count(distinct file_path) from successes") == [(5000, 5000)]
    assert len(list((inc / "notes").glob("*.obs.md"))) == 5000


def test_catch_up_with_once_then_nothing_then_only_changed(buckets):
    inc, _, state = buckets
    for i in range(100):
        (inc / f"d{i:03d}.txt").write_text(f"doc {i}\n")
    # Files must be older than the debounce so the scan queues them directly.
    old = time.time() - 60
    for p in inc.iterdir():
        os.utime(p, (old, old))
    r = obtui("--headless", "--once", "--state-dir", str(state), str(inc))
    assert r.returncode == 0, r.stderr
    assert success_count(state) == 100
    r = obtui("--headless", "--once", "--state-dir", str(state), str(inc))
    assert r.returncode == 0, r.stderr
    assert success_count(state) == 100
    (inc / "d007.txt").write_text("changed\n")
    os.utime(inc / "d007.txt", (old + 10, old + 10))
    r = obtui("--headless", "--once", "--state-dir", str(state), str(inc))
    assert r.returncode == 0, r.stderr
    rows = db_rows(state, "select file_path from successes order by ts")
    assert len(rows) == 101 and rows[-1][0] == str(inc / "d007.txt")


def test_post_action_moves_and_outputs_never_trigger(buckets):
    inc, _, state = buckets
    rule = RuleConfig(
        name="notes", patterns=("*",), output_dir="notes", on_success=PostAction("move", "processed/")
    )
    with running_engine(make_config([inc], [rule]), state) as engine:
        (inc / "a.txt").write_text("x\n")
        wait_for(lambda: (inc / "processed" / "a.txt").exists(), what="moved to processed/")
        wait_for(lambda: engine.snapshot().queue.settling == 0 and not engine.snapshot().queue.processing)
    assert success_count(state) == 1
    assert (inc / "notes" / "a.obs.md").exists()
    assert db_rows(state, "select status from manifest") == [("consumed",)]


def test_report_commands_do_not_import_textual(buckets):
    inc, _, state = buckets
    (inc / "r.txt").write_text("r\n")
    assert obtui("--headless", "--once", "--state-dir", str(state), str(inc)).returncode == 0
    code = (
        "import sys, io, contextlib\n"
        "from obtui.cli.main import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        f"    rc = main(['--report', '--state-dir', {str(state)!r}])\n"
        "assert rc == 0, rc\n"
        "assert 'textual' not in sys.modules, 'textual imported'\n"
        "assert 'rich' not in sys.modules, 'rich imported'\n"
        "print('ok')\n"
    )
    import subprocess

    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


def test_bucket_deleted_and_recreated_is_watched_again(buckets):
    inc, upl, state = buckets
    with running_engine(make_config([inc, upl]), state) as engine:
        shutil.rmtree(upl)
        wait_for(lambda: any(b.state == "missing" for b in engine.snapshot().buckets), what="missing")
        upl.mkdir()
        wait_for(lambda: all(b.state == "watching" for b in engine.snapshot().buckets), what="watching again")
        (upl / "back.txt").write_text("back\n")
        wait_for(lambda: success_count(state) == 1, what="processed after re-creation")
    cats = db_rows(state, "select category from errors")
    assert ("FileAccess",) in cats


def test_dropped_folder_gets_a_summary_note_with_its_tree(buckets, tmp_path):
    inc, _, state = buckets
    rule = RuleConfig(name="notes", patterns=("*",), folder_summary=True)
    with running_engine(make_config([inc], [rule]), state):
        folder = tmp_path / "project"
        (folder / "src").mkdir(parents=True)
        (folder / "README.md").write_text("# Project\nTODO: ship\n")
        (folder / "src" / "main.py").write_text("print('hi')  # FIXME\n")
        os.rename(folder, inc / "project")
        summary = inc / "project.obs.md"
        wait_for(summary.exists, what="folder summary note")
        wait_for(lambda: success_count(state) == 3, what="two files and the folder")
    text = summary.read_text()
    assert "README.md" in text and "main.py" in text and "└──" in text
    assert "TODO: ship" in text and "FIXME" in text


def test_result_json_records_status_and_real_duration(buckets):
    inc, _, state = buckets
    rule = RuleConfig(
        name="slowcopy",
        patterns=("*.job",),
        action="command",
        command=(sys.executable, "-c", "import time; time.sleep(0.3)"),
        result_json=True,
    )
    with running_engine(make_config([inc], [rule]), state):
        (inc / "a.job").write_text("work\n")
        result = inc / "a.job.result.json"
        wait_for(lambda: result.exists() and success_count(state) == 1, what="result.json")
    doc = json.loads(result.read_text())
    assert doc["final_status"] == "COMPLETED" and doc["rule"] == "slowcopy"
    assert doc["duration_seconds"] >= 0.3
