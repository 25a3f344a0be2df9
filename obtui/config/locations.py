"""Where obtui looks for its config file and keeps its state.

On the `obtui --report` fast path: keep imports cheap (no tomlkit, textual or tree_sitter here).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

CONFIG_ENV = "OBTUI_CONFIG"
STATE_DIR_ENV = "OBTUI_STATE_DIR"


def default_config_path() -> Path:
    """`$OBTUI_CONFIG`, else `config.toml` in the user config dir (~/.config/obtui on Linux)."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir("obtui")) / "config.toml"


def default_state_dir() -> Path:
    """`$OBTUI_STATE_DIR`, else the user state dir (~/.local/state/obtui on Linux)."""
    env = os.environ.get(STATE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_state_dir("obtui"))
