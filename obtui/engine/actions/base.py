"""What every action receives and returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obtui.config.model import RuleConfig
from obtui.engine.files.facts import FileFacts


@dataclass(frozen=True)
class ActionContext:
    """Everything an action may use. `output_dir` is resolved and checked to stay in bounds."""

    facts: FileFacts
    bucket: Path
    rel: str  # path relative to the bucket root, '/'-separated
    rule: RuleConfig
    matched_pattern: str
    output_dir: Path  # where outputs go (created by the action if missing)
    attempt: int = 1
    obtui_version: str = ""
    now_iso: str = ""
    env: dict[str, str] = field(default_factory=dict)  # extra environment for commands
    # For a dropped folder: whether an entry (path relative to the bucket, is a folder) is one that
    # obtui never takes as input (its own notes and result files, output and move folders, hidden
    # and temporary names, configured ignores); the summary leaves those out.
    never_input: Callable[[str, bool], bool] | None = None


@dataclass
class ActionResult:
    output_path: Path | None
    file_type: str = "text"  # text | binary | folder
    encoding: str | None = None
    grep_matches: int = 0
    files_collected: int = 1
    bytes_processed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    # Recoverable problems met on the way (e.g. EncodingFallbackWarning): recorded as INFO errors
    # with recovery successful, while the file itself counts as a success.
    warnings: list[Exception] = field(default_factory=list)
