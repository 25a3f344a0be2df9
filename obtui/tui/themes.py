"""Theme files: Textual `Theme` fields written as TOML, one theme per file.

The built-in ones live in `themes/` at the top of the project, and ship inside the package as
`obtui/data/themes/` (a test keeps the two the same), so an installed wheel has them too; users
add their own (or override a built-in one by name) in `<user data dir>/obtui/themes/`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path

from textual.theme import Theme

import obtui

FALLBACK_THEME = "obtui-dark"


def default_theme_dirs() -> list[Path]:
    """The packaged themes, then the user's folder (later folders win on a name clash)."""
    import platformdirs

    return [
        Path(obtui.__file__).resolve().parent / "data" / "themes",
        Path(platformdirs.user_data_dir("obtui")) / "themes",
    ]


def load_theme_file(path: Path) -> Theme:
    """Read one theme file. Raises ValueError with a readable reason when it is not a theme."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(str(exc)) from exc
    if not isinstance(data.get("name"), str) or not data["name"]:
        raise ValueError("missing `name`")
    if not isinstance(data.get("primary"), str):
        raise ValueError("missing `primary` colour")
    try:
        theme = Theme(**data)
        theme.to_color_system()  # parses every colour, so a typo fails here and not at render time
    except TypeError as exc:  # an unknown key, e.g. `colour = ...`
        raise ValueError(str(exc)) from exc
    except Exception as exc:  # Textual's colour parser raises its own ColorParseError
        raise ValueError(f"bad colour: {exc}") from exc
    return theme


def load_themes(dirs: Iterable[Path] | None = None) -> tuple[list[Theme], list[str]]:
    """Every `*.toml` theme in `dirs` (default: `default_theme_dirs()`), and one error line per
    file that could not be loaded. A later folder's theme replaces an earlier one of the same name.
    """
    by_name: dict[str, Theme] = {}
    errors: list[str] = []
    for folder in default_theme_dirs() if dirs is None else dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ValueError as exc:
                errors.append(f"{path}: {exc}")
                continue
            by_name[theme.name] = theme
    return list(by_name.values()), errors
