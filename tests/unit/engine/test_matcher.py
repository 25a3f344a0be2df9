"""The matcher keeps its patterns' answer per path (a file is matched at intake, dispatch and
processing), while what depends on the bucket's .gitignore files is decided afresh each time."""

from __future__ import annotations

import os
from pathlib import Path

from obtui.config.model import Config, RuleConfig
from obtui.engine.pipeline.patterns import MATCH_CACHE, Matcher


def test_a_gitignore_written_after_a_match_still_decides(tmp_path: Path) -> None:
    bucket = str(tmp_path)
    git = RuleConfig(name="git", patterns=("*.txt",), action="note", gitignore=True)
    rest = RuleConfig(name="rest", patterns=("*.txt",), action="note")
    m = Matcher(Config(rules=(git, rest)))
    first = m.match(bucket, "a.txt")
    assert first is not None and first.rule.name == "git"
    assert m.match(bucket, "a.txt") is first, "the second ask is answered from the cache"
    (tmp_path / ".gitignore").write_text("a.txt\n")
    os.utime(tmp_path / ".gitignore", ns=(1, 1))  # a new mtime even on a coarse clock
    again = m.match(bucket, "a.txt")
    assert again is not None and again.rule.name == "rest", "the git rule now defers to .gitignore"
    assert m.match(bucket, "a.md") is None and m.match(bucket, ".hidden.txt") is None


def test_the_cache_stays_bounded(tmp_path: Path) -> None:
    m = Matcher(Config(rules=(RuleConfig(name="n", patterns=("*.txt",), action="note"),)))
    for i in range(MATCH_CACHE * 2 + 10):
        assert m.match(str(tmp_path), f"f{i}.txt") is not None
    assert len(m._matches) <= MATCH_CACHE
