"""A rule's `grep` pattern, run so that no pattern can stall a worker.

Python's `re` backtracks: `(a+)+$` on a line of forty `a`s and a `b` takes longer than the
universe has left, holding the GIL all the while. RE2 (google-re2) runs every pattern it accepts
in time linear in the text, so it runs all of those. The few it refuses (backreferences,
look-around, possessive quantifiers) run on Python's `re` in a child process with a time limit
(`GREP_SECONDS`, see `grep_tools.scan_file_bounded`); on timeout the child is killed and the
note says the grep was abandoned.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from obtui.engine.errors import GrepPatternError

GREP_SECONDS = 5.0  # longest a pattern RE2 cannot run may take on one file
GrepEngine = Literal["re2", "re"]


@dataclass(frozen=True, eq=False)
class Grep:
    """A compiled rule `grep`: `engine` says which engine runs it."""

    source: str
    engine: GrepEngine
    python: re.Pattern[str]  # always compiled: Python syntax is what the config documents
    linear: Any = None  # the RE2 regexp (multi-line, never crossing a newline) when engine is re2

    def matching_lines(self, text: str, lines: list[str]) -> Iterator[int]:
        """0-based indexes of the `lines` (`text` split at newlines) that the pattern matches.

        The re2 engine searches the whole text once (a line at a time costs 7x more in RE2's
        per-call overhead), never across a newline and with `^`/`$` at line ends, which gives
        the same lines as searching each line on its own.
        """
        if self.linear is None:
            search = self.python.search
            yield from (i for i, line in enumerate(lines) if search(line) is not None)
            return
        data = text.encode("utf-8", "surrogatepass")
        search = self.linear.search
        pos = line = 0
        while pos <= len(data):
            m = search(data, pos)
            if m is None:
                return
            start = m.start()
            line += data.count(b"\n", pos, start)
            yield line
            end = data.find(b"\n", start)
            if end < 0:
                return
            pos, line = end + 1, line + 1


@lru_cache(maxsize=256)
def compile_grep(pattern: str | None) -> Grep | None:
    """The compiled rule `grep` (cached per pattern); None when the rule has none.

    Raises GrepPatternError when Python's `re` does not accept the pattern.
    """
    if not pattern:
        return None
    try:
        python = re.compile(pattern)
    except re.error as exc:
        raise GrepPatternError(
            f"Invalid grep pattern {pattern!r}: {exc}", code="re.error", context={"grep": pattern}
        ) from None
    linear = _re2(pattern)
    return Grep(pattern, "re2" if linear is not None else "re", python, linear)


def _re2(pattern: str) -> Any:
    """RE2's compiled form of `pattern`, or None when RE2 cannot run it (or is not installed)."""
    if "\\Z" in pattern:  # Python's end-of-text escape is \z in RE2; \Z is an error there
        return None
    try:
        import re2  # type: ignore[import-untyped, unused-ignore]
    except ImportError:  # pragma: no cover - a dependency; kept working without it
        return None
    options = re2.Options()
    options.log_errors = False
    options.never_nl = True  # a match never spans lines, as when each line is searched alone
    try:
        return re2.compile("(?m)" + pattern, options)
    except re2.error:
        return None
