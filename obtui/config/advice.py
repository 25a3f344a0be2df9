"""Valid settings that probably do not do what the user meant: `--check-config` prints them as
warnings and a runner logs them at start; they never stop obtui."""

from __future__ import annotations

import re

from obtui.config.model import Config, RuleConfig

# The last part of a pattern that names files by extension: `*.txt`, `report-*.pdf`, `a.md`.
_FILE_ONLY = re.compile(r"\.[A-Za-z0-9_-]{1,12}$")


def names_files_only(pattern: str) -> bool:
    """Whether a gitignore-style pattern can only match file names (ends in `.ext`, not in `/`)."""
    p = pattern.removeprefix("!").strip()
    if not p or p.endswith("/"):
        return False
    return bool(_FILE_ONLY.search(p.rsplit("/", 1)[-1]))


def _folder_summary_warning(n: int, rule: RuleConfig) -> str | None:
    if not rule.folder_summary or not all(names_files_only(p) for p in rule.patterns):
        return None
    at = f" (line {rule.line})" if rule.line else ""
    return (
        f"rules[{n}] ({rule.name}){at}: folder_summary = true does nothing here: a summary is written "
        f"for a dropped folder whose name one of the rule's patterns matches, and "
        f"{', '.join(rule.patterns)} only match file names. Add a pattern that matches the folders, "
        'e.g. "*/" (every folder; the files below a matched folder then belong to this rule too), '
        "or set folder_summary = false"
    )


def config_warnings(config: Config) -> list[str]:
    """Every warning about `config`, in rule order."""
    return [w for n, r in enumerate(config.rules, start=1) if (w := _folder_summary_warning(n, r))]
