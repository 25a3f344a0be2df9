"""Which `[ui] theme` names exist, known without importing Textual (so `--check-config` and the
config loader stay fast and UI-free): Textual's built-in themes, listed here, plus the theme
files obtui ships (`obtui/data/themes/`) and the user's (`<user data dir>/obtui/themes/`)."""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any

from obtui.config.checks import Invalid, describe, shown

# textual.theme.BUILTIN_THEMES of Textual 8 (tests/unit/config compares them with the installed one).
TEXTUAL_BUILTIN_THEMES = (
    "ansi-dark",
    "ansi-light",
    "atom-one-dark",
    "atom-one-light",
    "catppuccin-frappe",
    "catppuccin-latte",
    "catppuccin-macchiato",
    "catppuccin-mocha",
    "dracula",
    "flexoki",
    "gruvbox",
    "monokai",
    "nord",
    "rose-pine",
    "rose-pine-dawn",
    "rose-pine-moon",
    "solarized-dark",
    "solarized-light",
    "textual-dark",
    "textual-light",
    "tokyo-night",
)


def theme_dirs() -> list[Path]:
    """The packaged theme files, then the user's folder (the dashboard loads the same two)."""
    import platformdirs

    return [
        Path(__file__).resolve().parent.parent / "data" / "themes",
        Path(platformdirs.user_data_dir("obtui")) / "themes",
    ]


def theme_file_names(dirs: list[Path] | None = None) -> list[str]:
    """The names the theme files in `dirs` give themselves (`name = ...`, else the file stem)."""
    names: list[str] = []
    for folder in theme_dirs() if dirs is None else dirs:
        try:
            files = sorted(folder.glob("*.toml"))
        except OSError:
            continue
        for path in files:
            try:
                name = tomllib.loads(path.read_text(encoding="utf-8")).get("name")
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                name = None  # the dashboard reports a broken theme file when it loads it
            names.append(name if isinstance(name, str) and name else path.stem)
    return names


def theme_name(v: Any) -> str:
    """Converter for `[ui] theme`: a known theme name."""
    if not isinstance(v, str) or not v.strip():
        raise Invalid(f"expected a theme name, got {describe(v)}")
    files = theme_file_names()
    known = list(dict.fromkeys([*files, *TEXTUAL_BUILTIN_THEMES]))
    if v in known:
        return v
    close = difflib.get_close_matches(v, known, n=1, cutoff=0.6)
    hint = f"did you mean {shown(close[0])}? " if close else ""
    raise Invalid(
        f"unknown theme {shown(v)}; {hint}known themes: {', '.join(known)} "
        f"(add your own as a .toml file in {theme_dirs()[-1]})"
    )
