"""Config problems, each pointing at a file, a line and a key, and saying what was expected."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config.

    `line` and `col` are 1-based, as in compiler messages (subtract 1 for a 0-based editor cursor);
    either is None when unknown. `key` is dotted with 1-based array indexes, and rules also carry
    their name: `runner.concurrency`, `buckets[2].path`, `rules[2] (transcode).command`,
    `rules[1] (notes).patterns[3]`. It is empty for TOML syntax errors.
    """

    file: str | None
    line: int | None
    col: int | None
    key: str
    message: str

    def location(self) -> str:
        """`config.toml:12:5`, `config.toml:12`, `config.toml`, `line 12` or '' for what is known.

        The column is left out when it is 1 (a key at the start of its line): it adds nothing.
        """
        where = self.file or ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
            if self.col is not None and self.col > 1:
                where += f":{self.col}"
        return where

    def __str__(self) -> str:
        head = ": ".join(p for p in (self.location(), self.key) if p)
        return f"{head}: {self.message}" if head else self.message


class ConfigError(Exception):
    """The config could not be used. `problems` holds every problem found, in file order."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)
