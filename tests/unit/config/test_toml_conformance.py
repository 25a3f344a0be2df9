"""The config loader against the public TOML conformance suite (BurntSushi's toml-test), TOML 1.0
files only: every invalid file is refused with exit code 2 and its line, every valid file parses.

The suite is not copied into this repository: Debian's golang-github-burntsushi-toml-dev ships
it, and `make test` installs that package when it is missing. Set OBTUI_TOML_TEST_DIR to use
another copy (the folder holding `valid/` and `invalid/`).
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomlkit

from obtui.cli.main import main
from obtui.config.errors import ConfigError
from obtui.config.strict import check_syntax

DEBIAN_PACKAGE = "golang-github-burntsushi-toml-dev"
CANDIDATES = (
    "/usr/share/gocode/src/github.com/BurntSushi/toml/internal/toml-test/tests",
    "/usr/share/toml-test/tests",
)
# toml-test before its files-toml-1.0.0 lists marks TOML 1.1 files in version.go; this is its
# 1.0.0 exclude list, used when that file cannot be read.
DEFAULT_EXCLUDES = ("valid/string/escape-esc",)


def _suite() -> Path | None:
    where = os.environ.get("OBTUI_TOML_TEST_DIR")
    for c in ([where] if where else []) + list(CANDIDATES):
        if (Path(c) / "valid").is_dir() and (Path(c) / "invalid").is_dir():
            return Path(c)
    return None


def _toml_10_files(root: Path) -> list[str]:
    """Paths relative to `root` (`valid/...toml`, `invalid/...toml`) that TOML 1.0 covers."""
    listed = root / "files-toml-1.0.0"
    if listed.is_file():
        return [ln.strip() for ln in listed.read_text().splitlines() if ln.strip().endswith(".toml")]
    excludes = list(DEFAULT_EXCLUDES)
    version_go = root.parent / "version.go"
    if version_go.is_file():
        m = re.search(
            r'"1\.0\.0":\s*versionSpec\{\s*exclude:\s*\[\]string\{(.*?)\}', version_go.read_text(), re.S
        )
        if m:
            excludes = re.findall(r'"([^"]+)"', m.group(1))
    files = sorted(str(p.relative_to(root)) for p in root.glob("*valid/**/*.toml"))
    return [f for f in files if not any(fnmatch.fnmatch(f.removesuffix(".toml"), x) for x in excludes)]


SUITE = _suite()
FILES = _toml_10_files(SUITE) if SUITE else []
INVALID = [f for f in FILES if f.startswith("invalid/")]
VALID = [f for f in FILES if f.startswith("valid/")]


def _require_suite() -> Path:
    if SUITE is not None:
        return SUITE
    reason = (
        f"the TOML conformance suite is not installed: apt-get install {DEBIAN_PACKAGE} "
        "(make test does this as root), or set OBTUI_TOML_TEST_DIR"
    )
    if os.environ.get("CI"):
        pytest.fail(reason + "; CI must run this test")
    pytest.skip(reason)


def test_suite_is_there_with_enough_files() -> None:
    _require_suite()
    assert len(INVALID) > 150 and len(VALID) > 80, (len(INVALID), len(VALID))


def test_every_invalid_file_exits_2_naming_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    root = _require_suite()
    wrong = []
    for rel in INVALID:
        path = root / rel
        code = main(["--check-config", "--config", str(path)])
        err = capsys.readouterr().err
        if code != 2 or not re.search(re.escape(str(path)) + r":\d+(:\d+)?: ", err):
            wrong.append(f"{rel}: exit {code}: {err.strip()[:200]}")
    assert not wrong, f"{len(wrong)} of {len(INVALID)} invalid files:\n" + "\n".join(wrong)


def test_every_valid_file_parses() -> None:
    root = _require_suite()
    wrong = []
    for rel in VALID:
        text = (root / rel).read_bytes().decode("utf-8").removeprefix("\ufeff")
        try:
            check_syntax(text, rel)
            tomlkit.parse(text)  # the round-trip parser used after the strict check
        except (ConfigError, Exception) as exc:
            wrong.append(f"{rel}: {exc}")
    assert not wrong, f"{len(wrong)} of {len(VALID)} valid files:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    "rel",
    [
        "invalid/inline-table/duplicate-key.toml",
        "invalid/integer/double-us.toml",
        "invalid/datetime/no-secs.toml",
    ],
)
def test_real_binary_refuses_suite_files_with_their_line(rel: str) -> None:
    root = _require_suite()
    path = root / rel
    if not path.exists():
        pytest.skip(f"{rel} is not in this version of the suite")
    proc = subprocess.run(
        [sys.executable, "-m", "obtui", "--check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert re.search(re.escape(str(path)) + r":\d+", proc.stderr), proc.stderr
    assert "Traceback" not in proc.stderr
