"""Checks for the gitignore-style patterns of rules (`patterns`, `ignore`) and `[runner] ignore`."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from pathspec import PathSpec
from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

from obtui.config.checks import shown

_DRIVE_RE = re.compile(r"^[A-Za-z]:[\\/]")


def _bracket_problem(p: str) -> str | None:
    i = 0
    while i < len(p):
        c = p[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            j = i + 1
            if j < len(p) and p[j] in "!^":
                j += 1
            if j < len(p) and p[j] == "]":
                j += 1
            close = p.find("]", j)
            if close < 0:
                return f"'[' at position {i + 1} is never closed by ']' (write \\[ for a literal [)"
            i = close + 1
            continue
        if c == "]":
            return f"']' at position {i + 1} has no matching '[' (write \\] for a literal ])"
        i += 1
    return None


def glob_checker(bucket_paths: Sequence[Path], *, negation_ok: bool) -> Callable[[str], str | None]:
    """A check for one gitignore-style pattern, relative to a bucket root; returns a message or None.

    Negation (`!keep.txt`) only means something in an ignore list, where it re-includes files.
    """
    roots = [str(b) for b in bucket_paths]

    def check(p: str) -> str | None:
        body = p[1:] if p.startswith("!") else p
        if not p.strip():
            return 'expected a gitignore-style pattern such as "*.txt" or "docs/**/*.md", got an empty string'
        if p.startswith("!") and not negation_ok:
            return (
                f"a negated pattern {shown(p)} matches nothing in patterns; "
                "to leave files out, list them in ignore instead"
            )
        if body.startswith("~") or _DRIVE_RE.match(body) or _looks_absolute(body, roots):
            return (
                f"{shown(p)} looks like an absolute path; patterns are relative to the bucket root "
                "(a leading '/' anchors a pattern at the bucket root, e.g. \"/inbox/*.txt\")"
            )
        segments = body.split("/")
        if ".." in segments:
            return f"{shown(p)} has a '..' segment; patterns can only match files inside the bucket"
        if "." in segments:
            return f"{shown(p)} has a '.' segment; patterns are already relative to the bucket root, drop the './'"
        if problem := _bracket_problem(body):
            return f"{shown(p)}: {problem}"
        try:
            PathSpec.from_lines(GitIgnoreSpecPattern, [p], backend="simple")  # as the engine matches
        except Exception as e:  # pathspec raises GitIgnorePatternError, but any failure is a bad pattern
            return f"{shown(p)} is not a valid gitignore-style pattern ({e})"
        return None

    return check


def _looks_absolute(p: str, roots: list[str]) -> bool:
    """A leading '/' is gitignore anchoring, unless the pattern names a real folder of this machine."""
    if not p.startswith("/"):
        return False
    if any(p == r or p.startswith(r.rstrip("/") + "/") for r in roots if r != "/"):
        return True
    literal = []
    for seg in p.strip("/").split("/"):
        if any(ch in seg for ch in "*?[\\"):
            break
        literal.append(seg)
    if len(literal) < 2:
        return False
    try:
        return Path("/", *literal).is_dir()
    except (OSError, ValueError):
        return False
