"""Theme files, theme selection from the config, and the formatting helpers."""

from __future__ import annotations

import tomllib
from pathlib import Path

import obtui
from obtui.config.model import Config, UIConfig
from obtui.tui import format as fmt
from obtui.tui.themes import default_theme_dirs, load_themes
from tests.tui.fakes import FakeEngine
from tests.tui.harness import THEMES, build_app


def test_builtin_themes_load() -> None:
    themes, errors = load_themes([THEMES])
    assert errors == []
    assert {t.name for t in themes} == {"obtui-dark", "obtui-light"}
    assert {t.name: t.dark for t in themes} == {"obtui-dark": True, "obtui-light": False}


def test_default_dirs_are_the_packaged_themes_then_the_user() -> None:
    packaged, user = default_theme_dirs()
    assert packaged == Path(obtui.__file__).resolve().parent / "data" / "themes"
    assert user.name == "themes" and "obtui" in str(user)


def test_the_packaged_themes_are_the_project_themes_and_ship_in_the_wheel() -> None:
    # themes/ is where people look; obtui/data/themes/ is what an installed wheel carries.
    packaged = default_theme_dirs()[0]
    project = {p.name: p.read_bytes() for p in THEMES.glob("*.toml")}
    assert project and {p.name: p.read_bytes() for p in packaged.glob("*.toml")} == project
    pyproject = tomllib.loads((THEMES.parent / "pyproject.toml").read_text(encoding="utf-8"))
    assert "data/themes/*.toml" in pyproject["tool"]["setuptools"]["package-data"]["obtui"]


def test_bad_theme_files_are_reported_and_later_dirs_win(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text("name = 'x\n", encoding="utf-8")
    (tmp_path / "typo.toml").write_text("name = 't'\nprimary = '#112233'\ncolour = 'red'\n", encoding="utf-8")
    (tmp_path / "colour.toml").write_text("name = 'c'\nprimary = 'not-a-colour'\n", encoding="utf-8")
    (tmp_path / "noname.toml").write_text("primary = '#112233'\n", encoding="utf-8")
    (tmp_path / "mine.toml").write_text("name = 'obtui-dark'\nprimary = '#FF0000'\n", encoding="utf-8")
    themes, errors = load_themes([THEMES, tmp_path, tmp_path / "missing"])
    assert sorted(Path(e.split(":")[0]).name for e in errors) == [
        "broken.toml",
        "colour.toml",
        "noname.toml",
        "typo.toml",
    ]
    assert {t.name: t.primary for t in themes}["obtui-dark"] == "#FF0000"


async def test_config_theme_is_selected_and_builtin_textual_themes_work() -> None:
    app = build_app(config=Config(ui=UIConfig(theme="obtui-light")))
    async with app.run_test():
        assert app.theme == "obtui-light"
    app = build_app(config=Config(ui=UIConfig(theme="textual-light")))
    async with app.run_test():
        assert app.theme == "textual-light"


async def test_unknown_theme_falls_back_with_a_notification() -> None:
    app = build_app(FakeEngine(), config=Config(ui=UIConfig(theme="no-such-theme")))
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.theme == "obtui-dark"
        assert any("no-such-theme" in n.message for n in app._notifications)


def test_format_helpers() -> None:
    assert fmt.trim_left("reports/2026/final.md", 10) == "…/final.md"
    assert fmt.trim_right("Permission denied", 10) == "Permissio…"
    assert fmt.short_error_id("ERR-2026-02-18-042345-001") == "042345-001"
    assert fmt.short_error_id("E42") == "E42"
    assert fmt.display_dir("/srv/incoming/a/b", ("/srv", "/srv/incoming")) == "incoming/a/b"
    assert fmt.display_dir("/elsewhere", ("/srv",)) == "/elsewhere"
    assert fmt.iso_time("2026-02-18T04:23:45.123Z") == "04:23:45"
    assert fmt.pct(97.391) == "97.4%"
