"""Strict TOML 1.0: what tomlkit let through is refused, and every syntax error names its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from obtui.config.errors import ConfigError
from obtui.config.loader import load_config


def _problem(tmp_path: Path, text: str) -> tuple[int | None, str]:
    f = tmp_path / "config.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(f, required=True)
    p = info.value.problems[0]
    assert p.file == str(f)
    return p.line, p.message


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("[runner]\nconcurrency = 1\t0\n", 2, "unexpected text"),  # a tab inside a number
        ("[runner]\nconcurrency = 1__0\n", 2, "unexpected text"),
        ("[ui]\ntheme = 'x'\nwhen = 1979-05-27T07:32\n", 3, "a time needs seconds"),
        ("[ui]\ntheme = 'x'\nwhen = 07:32\n", 3, "a time needs seconds"),
        ("[ui]\nt = {a = 1, a = 2}\n", 2, "duplicate key in an inline table"),
        ("[runner]\nconcurrency = 2\n\nconcurrency = 3\n", 4, "already defined"),
        ("[ui]\n[runner]\n[ui]\n", 3, "[table] is already defined"),
        ('[ui]\ntheme = "dark\n', 2, "string not closed on line 2"),
        ("[runner]\nignore = [\n  'a',\n", 2, "starts on line 2 is closed"),
    ],
)
def test_syntax_errors_name_their_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    got_line, message = _problem(tmp_path, text)
    assert got_line == line, message
    assert words in message
    assert message.startswith("TOML syntax error: ") or message.startswith("string not closed")


def test_unknown_top_level_key_names_its_line(tmp_path: Path) -> None:
    line, message = _problem(tmp_path, "[ui]\ntheme = 'obtui-dark'\n\n[metrix]\nlisten = ':1'\n")
    assert line == 4
    assert "unknown table [metrix]" in message
