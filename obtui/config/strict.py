"""Strict TOML 1.0 syntax check with the standard library's `tomllib`, before tomlkit parses.

tomlkit keeps comments and layout (the config editor round-trips through it) but accepts some
invalid files (junk inside numbers, datetimes without seconds, duplicate keys in inline tables)
and names no line for others. `tomllib` passes the TOML conformance suite and gives a line and
column for every error; this module turns its messages into ones that say what to fix.
"""

from __future__ import annotations

import re
import tomllib

from obtui.config.errors import ConfigError, Problem

_AT_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_AT_END = " (at end of document)"
_KEY_RE = re.compile(r"""^\s*([A-Za-z0-9_.\s"'-]+?)\s*=""")
MAX_SEARCH_LINES = 5000  # longest file searched for where an unclosed array or string began

# tomllib's wording -> what a person should do about it.
_HINTS: tuple[tuple[str, str], ...] = (
    ("Duplicate inline table key", "duplicate key in an inline table (each key may appear only once)"),
    ("Expected newline or end of document after a statement", "unexpected text after the value"),
    ("Invalid value", "invalid value (text needs quotes)"),
)
_TIME_NO_SECONDS = re.compile(r"\d\d:\d\d(?!:\d)")  # 07:32 without :00


def check_syntax(text: str, file: str | None) -> None:
    """Raise ConfigError (with file, line and column) if `text` is not valid TOML 1.0."""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([syntax_problem(str(exc), text, file)]) from None


def syntax_problem(message: str, text: str, file: str | None) -> Problem:
    """A Problem for one `tomllib` error message, located in `text`."""
    from obtui.config.toml_hints import unclosed_string_message

    m = _AT_RE.search(message)
    at = int(m.group(1)) if m else _last_line(text)
    if (open_string := unclosed_string_message(text)) and open_string[0] <= at:
        return Problem(file, open_string[0], None, "", open_string[1])  # a forgotten quote, said so
    if m:
        what = message[: m.start()]
        line, col = int(m.group(1)), int(m.group(2))
        if what == "Illegal character '\\n'":
            what = f"string not closed on line {line} (a quoted string must end on the line it starts)"
        elif what.startswith("Cannot declare (") and what.endswith(") twice"):
            what = "this [table] is already defined (use [[...]] for repeated entries)"
        elif what.startswith("Cannot overwrite"):
            what, col = _duplicate(text, line), _indent(text, line)
        elif _TIME_NO_SECONDS.search(_line(text, line).partition("#")[0]):
            what = "a time needs seconds (07:32:00, not 07:32)"
        else:
            what = _hint(what)
        return Problem(file, line, col, "", f"TOML syntax error: {what}")
    what = message.removesuffix(_AT_END)
    start = _unclosed_start(text) if message.endswith(_AT_END) else None
    if start is not None:
        thing = {"Unclosed array": "array [", "Unterminated string": "string"}.get(what, "value")
        msg = (
            f"the file ends before the {thing} that starts on line {start} is closed"
            " (a [, { or quote left open?)"
        )
        return Problem(file, start, None, "", f"TOML syntax error: {msg}")
    return Problem(
        file, _last_line(text), None, "", f"TOML syntax error: {_hint(what)} (at the end of the file)"
    )


def _hint(what: str) -> str:
    for prefix, better in _HINTS:
        if what.startswith(prefix):
            return better
    return what[:1].lower() + what[1:]


def _duplicate(text: str, line: int) -> str:
    """ "key "name" is already defined ..." naming the key written on `line` when it can."""
    lines = text.split("\n")
    m = _KEY_RE.match(lines[line - 1]) if 0 < line <= len(lines) else None
    key = f'key "{m.group(1).strip()}"' if m else "this key"
    return f"{key} is already defined (each key may appear only once)"


def _line(text: str, line: int) -> str:
    lines = text.split("\n")
    return lines[line - 1] if 0 < line <= len(lines) else ""


def _indent(text: str, line: int) -> int:
    """The 1-based column of the first non-blank character of `line` (where its key starts)."""
    lines = text.split("\n")
    if not 0 < line <= len(lines):
        return 1
    s = lines[line - 1]
    return len(s) - len(s.lstrip(" \t")) + 1


def _last_line(text: str) -> int:
    return max(1, len(text.rstrip("\n").split("\n")))


def _unclosed_start(text: str) -> int | None:
    """The line where the construct left open at the end of `text` begins: the line after the
    longest prefix of whole lines that is valid TOML on its own."""
    lines = text.split("\n")
    if len(lines) > MAX_SEARCH_LINES:
        return None
    for n in range(len(lines) - 1, -1, -1):
        try:
            tomllib.loads("\n".join(lines[:n]))
        except tomllib.TOMLDecodeError:
            continue
        return n + 1
    return None
