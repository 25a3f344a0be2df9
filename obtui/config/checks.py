"""The building blocks of validation: a problem collector that knows key lines, value converters
that say what they expected, `${ENV}` expansion and unknown-key detection with suggestions."""

from __future__ import annotations

import datetime as dt
import difflib
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from obtui.config.errors import Problem
from obtui.config.keylines import Path_, Positions
from obtui.config.units import DURATION_EXPECTED, SIZE_EXPECTED, parse_duration, parse_size, spell_duration


class Invalid(Exception):
    """Raised by a converter: one or more (sub-path, message) pairs."""

    def __init__(self, message: str = "", *, items: list[tuple[Path_, str]] | None = None) -> None:
        self.items = items if items is not None else [((), message)]
        super().__init__(message)


Converter = Callable[[Any], Any]


class Checker:
    """Collects problems, each placed at the line of its key (or of its nearest known ancestor)."""

    def __init__(self, source: Path | None, positions: Positions) -> None:
        self.file = str(source) if source is not None else None
        self.positions = positions
        self.rule_names: dict[int, str] = {}
        self.problems: list[Problem] = []

    def label(self, path: Path_) -> str:
        """`rules[2] (transcode).patterns[1]` for ("rules", 1, "patterns", 0)."""
        out = ""
        for n, part in enumerate(path):
            if isinstance(part, int):
                out += f"[{part + 1}]"
                if n == 1 and path[0] == "rules" and (name := self.rule_names.get(part)):
                    out += f" ({name})"
            else:
                out += f".{part}" if out else part
        return out

    def where(self, path: Path_) -> tuple[int | None, int | None]:
        for n in range(len(path), 0, -1):
            at = self.positions.get(path[:n])
            if at is not None:
                return at
        return None, None

    def error(self, path: Path_, message: str) -> None:
        line, col = self.where(path)
        self.problems.append(Problem(self.file, line, col, self.label(path), message))

    def field(self, table: Mapping[str, Any], path: Path_, key: str, conv: Converter, default: Any) -> Any:
        """Convert `table[key]` (or return `default` when absent or invalid, reporting why)."""
        if key not in table:
            return default
        try:
            return conv(table[key])
        except Invalid as e:
            for sub, msg in e.items:
                self.error(path + (key,) + sub, msg)
            return default

    def sorted_problems(self) -> list[Problem]:
        big = 1 << 60
        return sorted(self.problems, key=lambda p: (p.line or big, p.col or 0))


# -- describing values -------------------------------------------------------------------------


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items()) + "}"
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    return repr(v)


def shown(v: Any, limit: int = 60) -> str:
    """A value as TOML text, shortened: `"ffmpeg -i {path}"`, `[1, 2]`, `true`."""
    text = _toml(v)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(v: Any) -> str:
    """`a string "x"`, `an integer 5`, `a table {…}`: what the user wrote, for 'got …'."""
    if isinstance(v, bool):
        kind = "a boolean"
    elif isinstance(v, int):
        kind = "an integer"
    elif isinstance(v, float):
        kind = "a float"
    elif isinstance(v, str):
        kind = "an empty string" if v == "" else "a string"
        if v == "":
            return kind
    elif isinstance(v, list):
        kind = "an array"
    elif isinstance(v, dict):
        kind = "a table"
    elif isinstance(v, dt.datetime):
        kind = "a date-time"
    elif isinstance(v, dt.date):
        kind = "a date"
    elif isinstance(v, dt.time):
        kind = "a time"
    else:
        kind = type(v).__name__
    return f"{kind} {shown(v)}"


# -- converters ------------------------------------------------------------------------------


def integer(lo: int, hi: int | None = None) -> Converter:
    def conv(v: Any) -> int:
        rng = f"from {lo:,} to {hi:,}".replace(",", "_") if hi is not None else f"of at least {lo}"
        if isinstance(v, float) and math.isfinite(v) and v == int(v):
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int):
            raise Invalid(f"expected an integer {rng}, got {describe(v)}")
        if v < lo or (hi is not None and v > hi):
            raise Invalid(f"expected an integer {rng}, got {v}")
        return v

    return conv


def boolean(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "false"):
        raise Invalid(f"expected true or false without quotes, got {describe(v)}")
    raise Invalid(f"expected true or false, got {describe(v)}")


def _time_hint(v: Any) -> str:
    if isinstance(v, dt.time):
        return '; TOML read it as a time of day, write a duration string such as "1h30m" instead'
    return ""


def duration(lo: float = 0.0, hi: float | None = None, *, positive: bool = False) -> Converter:
    """Seconds from a number or a duration string, within [lo, hi] (and > 0 when `positive`)."""

    def conv(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float | str):
            raise Invalid(f"expected {DURATION_EXPECTED}, got {describe(v)}{_time_hint(v)}")
        try:
            secs = parse_duration(v)
        except ValueError as e:
            raise Invalid(f"{e}{_time_hint(v)}") from None
        if (positive and secs <= 0) or secs < lo or (hi is not None and secs > hi):
            low = "more than 0s" if positive and lo <= 0 else f"at least {spell_duration(lo)}"
            rng = f"{low} and at most {spell_duration(hi)}" if hi is not None else low
            raise Invalid(f"expected a duration of {rng}, got {shown(v)}")
        return secs

    return conv


def millis(lo: int, hi: int) -> Converter:
    """Whole milliseconds from an integer (ms) or a duration string ("500ms", "2s")."""

    def conv(v: Any) -> int:
        rng = f"from {lo} to {hi:_} ms"
        if isinstance(v, float) and math.isfinite(v) and v == int(v):
            v = int(v)
        if isinstance(v, str):
            try:
                ms = round(parse_duration(v) * 1000)
            except ValueError as e:
                raise Invalid(f"{e} (a bare number here is milliseconds)") from None
        elif isinstance(v, int) and not isinstance(v, bool):
            ms = v
        else:
            raise Invalid(
                f'expected whole milliseconds {rng} or a duration like "500ms", "2s", got {describe(v)}'
                + _time_hint(v)
            )
        if not lo <= ms <= hi:
            raise Invalid(f"expected {rng}, got {shown(v)}")
        return ms

    return conv


def size(lo: int = 0) -> Converter:
    def conv(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int | float | str):
            raise Invalid(f"expected {SIZE_EXPECTED}, got {describe(v)}")
        try:
            n = parse_size(v)
        except ValueError as e:
            raise Invalid(str(e)) from None
        if n < lo:
            raise Invalid(f"expected a size of at least {lo} bytes, got {shown(v)}")
        return n

    return conv


def string(*, nonempty: bool = True, what: str = "a string") -> Converter:
    def conv(v: Any) -> str:
        if not isinstance(v, str):
            raise Invalid(f"expected {what}, got {describe(v)}")
        if nonempty and not v.strip():
            raise Invalid(f"expected {what}, got an empty string")
        return v

    return conv


def str_list(item: Callable[[str], str | None] | None = None, *, what: str = "strings") -> Converter:
    """A list of strings; `item` returns an error message for a bad item, or None."""

    def conv(v: Any) -> tuple[str, ...]:
        if isinstance(v, str):
            raise Invalid(f"expected a list of {what}, got {describe(v)}; write [{shown(v)}]")
        if not isinstance(v, list):
            raise Invalid(f"expected a list of {what}, got {describe(v)}")
        bad: list[tuple[Path_, str]] = []
        for i, x in enumerate(v):
            if not isinstance(x, str):
                bad.append(((i,), f"expected a string, got {describe(x)}"))
            elif item is not None and (msg := item(x)) is not None:
                bad.append(((i,), msg))
        if bad:
            raise Invalid(items=bad)
        return tuple(v)

    return conv


# -- ${ENV} expansion --------------------------------------------------------------------------

_ENV_RE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")


def _expand(s: str, env: Mapping[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$${":
            return "${"
        name = m.group(1)
        if name is None:
            raise Invalid(
                f"'${{' at position {m.start() + 1} of {shown(s)} does not start a valid reference; "
                "expected ${NAME} or ${NAME:-default} (write $${ for a literal ${)"
            )
        value = env.get(name)
        if value is None:
            if m.group(2) is None:
                raise Invalid(
                    f"environment variable {name} is not set (referenced as ${{{name}}} in {shown(s)}); "
                    f"set it, or give a default: ${{{name}:-value}}"
                )
            return m.group(2)
        return value if value or m.group(2) is None else m.group(2)

    return _ENV_RE.sub(sub, s)


def expand_env(data: Any, path: Path_, checker: Checker, env: Mapping[str, str] | None = None) -> Any:
    """Expand `${VAR}` and `${VAR:-default}` in every string value (not in keys), in place."""
    env = os.environ if env is None else env
    if isinstance(data, str):
        if "${" not in data:
            return data
        try:
            return _expand(data, env)
        except Invalid as e:
            for sub, msg in e.items:
                checker.error(path + sub, msg)
            return data
    if isinstance(data, list):
        return [expand_env(x, path + (i,), checker, env) for i, x in enumerate(data)]
    if isinstance(data, dict):
        return {k: expand_env(x, path + (k,), checker, env) for k, x in data.items()}
    return data


# -- unknown keys ------------------------------------------------------------------------------


def check_keys(
    checker: Checker,
    table: Mapping[str, Any],
    path: Path_,
    known: Iterable[str],
    where: str,
    *,
    aliases: Mapping[str, str] | None = None,
    elsewhere: Mapping[str, str] | None = None,
) -> None:
    """Report keys not in `known`, suggesting the nearest known key.

    `aliases` maps common other spellings to our key ("workers" → "concurrency"); `elsewhere` maps
    keys that belong in another table to that table's name ("timeout" → "[[rules]]").
    """
    known = list(known)
    for key in table:
        if key in known:
            continue
        msg = f"unknown key '{key}' in {where}"
        if aliases and key in aliases:
            msg += f"; did you mean '{aliases[key]}'?"
        elif close := difflib.get_close_matches(key, known, n=1, cutoff=0.6):
            msg += f"; did you mean '{close[0]}'?"
        elif elsewhere and key in elsewhere:
            msg += f"; '{key}' belongs in {elsewhere[key]}"
        else:
            msg += f"; expected one of: {', '.join(known)}"
        checker.error(path + (key,), msg)
