"""The commented sample config that ships with obtui."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def sample_config_text() -> str:
    """The packaged sample config (obtui/data/sample_config.toml)."""
    return resources.files("obtui").joinpath("data/sample_config.toml").read_text(encoding="utf-8")


def write_sample_config(dest: Path) -> Path:
    """Write the sample config to `dest` (creating parent folders) and return the path.

    Never overwrites: raises FileExistsError when `dest` already exists.
    """
    dest = Path(dest).expanduser()
    if dest.exists():
        raise FileExistsError(
            f"{dest} already exists; obtui will not overwrite it. "
            "Move it away or edit it directly (the sample is in obtui/data/sample_config.toml)."
        )
    text = sample_config_text()
    dest.parent.mkdir(parents=True, exist_ok=True)
    # "x" mode: fail rather than clobber a file created since the check above.
    with dest.open("x", encoding="utf-8") as f:
        f.write(text)
    return dest
