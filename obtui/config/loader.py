"""Load the TOML config file into a `Config`, reporting every problem with its file, line and key.

The same entry point (`parse_config_text`) serves the CLI, `--check-config`, hot reload and the
TUI editor, so they all agree on what a valid config is.
"""

from __future__ import annotations

import re
from pathlib import Path

from obtui.config.checks import Checker, expand_env
from obtui.config.errors import ConfigError, Problem
from obtui.config.locations import default_config_path
from obtui.config.model import Config

_AT_RE = re.compile(r"\s+at line \d+ col \d+$")


def load_config(path: Path | None = None, *, required: bool = False) -> Config:
    """Load and validate the config file.

    `path` None means the default location (`$OBTUI_CONFIG` or the user config dir). A missing file
    gives the built-in defaults, unless `required`, when it is a ConfigError naming the file.
    """
    file = Path(path).expanduser() if path is not None else default_config_path()
    try:
        if not file.exists():
            if required:
                raise ConfigError([Problem(str(file), None, None, "", "config file not found")])
            return Config()
        if file.is_dir():
            raise ConfigError(
                [Problem(str(file), None, None, "", "expected a TOML file, but this is a folder")]
            )
        data = file.read_bytes()
    except OSError as e:
        raise ConfigError(
            [Problem(str(file), None, None, "", f"cannot read the config file: {e.strerror or e}")]
        ) from e
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        msg = f"the file is not valid UTF-8 (byte 0x{data[e.start]:02x}); TOML files must be UTF-8"
        raise ConfigError([Problem(str(file), line, col, "", msg)]) from None
    return parse_config_text(text, file)


def config_gone_message(path: Path) -> str:
    """What a runner records when its config file disappears while it runs."""
    return (
        f"{path}: the config file was deleted (or moved away); the running rules stay in force "
        "until a valid file is back at this path"
    )


def parse_config_text(text: str, source: Path | None = None) -> Config:
    """Validate TOML `text` into a Config, or raise ConfigError listing ALL problems found.

    `source` is the file the text belongs to (for messages, and as the folder that relative bucket
    paths are resolved against; the CWD when None).
    """
    import tomlkit
    from tomlkit.exceptions import ParseError

    from obtui.config.keylines import key_positions
    from obtui.config.rules import name_rules
    from obtui.config.strict import check_syntax
    from obtui.config.validate import build_config

    file = str(source) if source is not None else None
    text = text.removeprefix("\ufeff")
    check_syntax(text, file)  # strict TOML 1.0 first: tomlkit accepts some invalid files
    try:
        data = tomlkit.parse(text).unwrap()
    except ParseError as e:
        from obtui.config.toml_hints import unclosed_string_message

        if (open_string := unclosed_string_message(text)) and open_string[0] <= e.line:
            raise ConfigError([Problem(file, open_string[0], None, "", open_string[1])]) from None
        raise ConfigError([Problem(file, e.line, e.col + 1, "", _syntax_message(e))]) from None
    except Exception as e:  # e.g. KeyAlreadyPresent, which carries no position
        line = _repeated_key_line(text)
        raise ConfigError([Problem(file, line, None, "", _syntax_message(e))]) from None

    try:
        positions = key_positions(text)
    except Exception:  # positions only improve messages; never let them break loading
        positions = {}
    checker = Checker(source, positions)
    name_rules(checker, data.get("rules"))
    data = expand_env(data, (), checker)
    absolute = Path(source).expanduser().absolute() if source is not None else None
    base = absolute.parent if absolute is not None else Path.cwd()
    config = build_config(data, checker, base, absolute)
    if checker.problems:
        raise ConfigError(checker.sorted_problems())
    return config


_HEADER_RE = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]")
_KEY_RE = re.compile(r"""^\s*([A-Za-z0-9_.-]+|"[^"]*"|'[^']*')\s*=""")


def _repeated_key_line(text: str) -> int | None:
    """The line where a key or table is defined a second time (tomlkit does not say)."""
    seen: set[tuple[str, str]] = set()
    table = ""
    for n, line in enumerate(text.splitlines(), start=1):
        if m := _HEADER_RE.match(line):
            table = f"{m.group(2)}#{n}" if m.group(1) == "[[" else m.group(2)
            entry = ("", table)
        elif m := _KEY_RE.match(line):
            entry = (table, m.group(1).strip("\"'"))
        else:
            continue
        if entry in seen:
            return n
        seen.add(entry)
    return None


def _syntax_message(e: Exception) -> str:
    msg = _AT_RE.sub("", str(e))
    if "'\\x00'" in msg or "'\x00'" in msg:
        msg = "unexpected end of file (is a [, { or quote left open?)"
    elif msg.startswith("Key ") and msg.endswith("already exists."):
        msg = (
            msg.rstrip(".") + " (each key and [table] may appear only once; use [[...]] for repeated entries)"
        )
    return f"TOML syntax error: {msg}"
