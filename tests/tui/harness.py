"""Building a frozen app with the real `make_app` around the fakes, for snapshots and Pilot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from obtui.config.model import Config, UIConfig
from obtui.tui.app import ObtuiApp, make_app
from tests.tui.fakes import FakeEngine, FakeStore, frozen_clock, sample_records

ROOT = Path(__file__).resolve().parents[2]
THEMES = ROOT / "themes"
# Snapshots show the config path, so it must be the same on every machine and run.
SNAPSHOT_CONFIG = Path("/tmp/obtui-tui-snapshots/config.toml")
DEFAULT_CONFIG = Path("/home/ada/.config/obtui/config.toml")
# Themes load from THEMES (this checkout); screens that show the folder show this one instead.
SHOWN_THEMES = Path("/home/ada/.config/obtui/themes")


SAMPLE_STORE = FakeStore  # marker: a FakeStore holding `sample_records()`


def build_app(
    engine: FakeEngine | None = None,
    store: FakeStore | type[FakeStore] | None = SAMPLE_STORE,
    *,
    theme: str = "obtui-dark",
    config: Config | None = None,
    **kwargs: Any,
) -> ObtuiApp:
    """A frozen app: no poll timer, no engine start, frozen clock, the project's themes only."""
    options: dict[str, Any] = {
        "config_path": None,
        "poll_interval": None,
        "config_poll_interval": None,
        "clock": frozen_clock,
        "themes_dirs": [THEMES],
        "start_engine": False,
        "default_config_path": DEFAULT_CONFIG,
    }
    options.update(kwargs)
    return make_app(
        engine if engine is not None else FakeEngine(),
        FakeStore(sample_records()) if store is SAMPLE_STORE else store,  # type: ignore[arg-type]
        config or Config(ui=UIConfig(theme=theme)),
        **options,
    )
