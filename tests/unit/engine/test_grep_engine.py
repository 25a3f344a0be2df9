"""A rule's grep can never stall a worker: RE2 for what it can run, a time-limited child process
for the rest, and the same matching lines as Python's `re` line by line."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from obtui.engine.actions.grep_engine import compile_grep
from obtui.engine.actions.grep_tools import scan_file, scan_file_bounded
from tests.helpers import db_rows, obtui, toml_str

EVIL = "a" * 40 + "b"
PATTERNS = [
    "TODO|FIXME",
    "^a",
    "b$",
    "^$",
    "a*",
    r"\s+",
    "[^x]+$",
    "(a+)+$",
    r"\bab",
    "a.b",
    "(?i)todo",
    "x?",
]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PATTERNS), st.text(alphabet="ab x\nTODOtodo", max_size=60))
def test_re2_finds_the_same_lines_as_re_line_by_line(pattern: str, text: str) -> None:
    grep = compile_grep(pattern)
    assert grep is not None and grep.engine == "re2"
    lines = text.split("\n")
    expected = [i for i, line in enumerate(lines) if re.search(pattern, line)]
    assert list(grep.matching_lines(text, lines)) == expected


def test_catastrophic_pattern_runs_on_re2_in_no_time(tmp_path: Path) -> None:
    f = tmp_path / "evil.txt"
    f.write_text(f"{EVIL}\n" * 1000 + "aaa\n")
    grep = compile_grep("(a+)+$")
    assert grep is not None and grep.engine == "re2"
    started = time.monotonic()
    scan = scan_file(f, f.stat().st_size, grep)
    assert time.monotonic() - started < 1.0
    assert (scan.match_count, scan.matches[0][0]) == (1, 1001)


def test_pattern_re2_cannot_run_is_stopped_after_its_time(tmp_path: Path) -> None:
    f = tmp_path / "evil.txt"
    f.write_text(f"intro TODO\n{EVIL}\n")
    grep = compile_grep(r"(a+)+(?<!x)$")  # look-behind: Python's re only
    assert grep is not None and grep.engine == "re"
    started = time.monotonic()
    scan = scan_file_bounded(f, f.stat().st_size, grep, seconds=1.0)
    assert time.monotonic() - started < 5.0
    assert scan.grep_abandoned and "more than 1 s" in scan.grep_abandoned
    assert scan.lines == 2 and scan.match_count == 0  # the rest of the note is still there


def test_pattern_re2_cannot_run_still_matches_when_quick(tmp_path: Path) -> None:
    f = tmp_path / "ok.txt"
    f.write_text("abab\nxyz\nabab again #tag\n")
    grep = compile_grep(r"(ab)\1")  # a backreference: Python's re only
    assert grep is not None and grep.engine == "re"
    scan = scan_file_bounded(f, f.stat().st_size, grep, seconds=20.0)
    assert scan.grep_abandoned is None
    assert (scan.match_count, [n for n, _ in scan.matches], scan.tags) == (2, [1, 3], {"tag"})


def _once_with_grep(tmp_path: Path, grep: str) -> tuple[subprocess.CompletedProcess[str], Path, float]:
    bucket, state = tmp_path / "in", tmp_path / "state"
    bucket.mkdir()
    (bucket / "evil.txt").write_text(f"{EVIL}\n")
    for i in range(3):
        (bucket / f"plain{i}.txt").write_text(f"line {i}\naaaa\n")
    cfg = tmp_path / "obtui.toml"
    cfg.write_text(
        f'[[buckets]]\npath = {toml_str(bucket)}\n\n[[rules]]\nname = "notes"\naction = "note"\n'
        f"grep = {toml_str(grep)}\n"
    )
    started = time.monotonic()
    proc = obtui("--once", "--config", str(cfg), "--state-dir", str(state), timeout=60)
    return proc, state, time.monotonic() - started


def test_once_with_catastrophic_grep_finishes_with_an_outcome_for_every_file(tmp_path: Path) -> None:
    proc, state, took = _once_with_grep(tmp_path, "(a+)+$")
    assert proc.returncode == 0, proc.stderr
    assert took < 20
    assert db_rows(state, "select count(*) from successes")[0][0] == 4
    note = (tmp_path / "in" / "evil.obs.md").read_text()
    assert "No line matches" in note
    assert "1 matching line" in (tmp_path / "in" / "plain0.obs.md").read_text()


@pytest.mark.slow
def test_once_with_a_stalling_non_re2_grep_says_so_and_goes_on(tmp_path: Path) -> None:
    proc, state, took = _once_with_grep(tmp_path, r"(a+)+(?<!x)$")
    assert proc.returncode == 0, proc.stderr
    assert took < 30
    assert db_rows(state, "select count(*) from successes")[0][0] == 4
    assert "abandoned" in (tmp_path / "in" / "evil.obs.md").read_text()
    rows = db_rows(state, "select severity, category, message from errors")
    assert len(rows) == 1 and rows[0][:2] == ("INFO", "Configuration") and "abandoned" in rows[0][2], rows


def test_grep_child_runs_as_a_module(tmp_path: Path) -> None:
    f = tmp_path / "x.txt"
    f.write_text("abab\n")
    out = subprocess.run(
        [sys.executable, "-m", "obtui.engine.actions.grep_tools", str(f), "5", r"(ab)\1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0 and '"match_count": 1' in out.stdout, out.stderr
