"""Command-line values (`--concurrency`, `--poll-seconds`, bucket folders given as DIR) checked by
the same converters and rules as the config file, so a value refused in the config is refused,
with the same message, on the command line."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from obtui.config.checks import Invalid
from obtui.config.errors import ConfigError, Problem
from obtui.config.model import Config
from obtui.config.validate import nested_buckets, nested_message, runner_converters

# flag -> [runner] key
RUNNER_FLAGS = {"--concurrency": "concurrency", "--poll-seconds": "poll_seconds"}


def cli_value(text: str) -> Any:
    """A command-line word as the config would hold it: an integer, a number, else the text
    ("2s" stays a duration string)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def with_cli_buckets(config: Config, dirs: list[Path], *, must_exist: bool = True) -> Config:
    """`config` plus the folders named on the command line; ConfigError when one does not exist
    (unless not `must_exist`: a reload while a bucket is deleted) or lies inside another recursive
    bucket (or holds one)."""
    missing = [d for d in dirs if must_exist and not Path(d).expanduser().is_dir()]
    if missing:
        raise ConfigError(
            Problem(None, None, None, "DIR", f"bucket folder {d} does not exist or is not a folder")
            for d in missing
        )
    merged = config.with_buckets([Path(d) for d in dirs])
    index = {b.path: i for i, b in enumerate(config.buckets)}
    problems = []
    for inner, outer in nested_buckets(merged.buckets):
        if inner.path in index and outer.path in index:
            continue  # both in the file: the loader has refused them already
        label = f"buckets[{index[outer.path] + 1}]" if outer.path in index else "the folder given as DIR"
        msg = nested_message(inner.path, label, outer.path)
        if outer.path not in index:
            msg += " (or give only the outer folder: it covers the inner one)"
        problems.append(Problem(None, None, None, "DIR", msg))
    if problems:
        raise ConfigError(problems)
    return merged


def apply_cli(
    config: Config, dirs: list[Path], *, concurrency: str | None = None, poll_seconds: str | None = None
) -> Config:
    """The effective config: `config` + CLI folders + CLI runner values, every problem at once."""
    converters = runner_converters(None)
    problems: list[Problem] = []
    overrides: dict[str, Any] = {}
    for flag, raw in (("--concurrency", concurrency), ("--poll-seconds", poll_seconds)):
        if raw is None:
            continue
        key = RUNNER_FLAGS[flag]
        try:
            overrides[key] = converters[key](cli_value(raw))
        except Invalid as exc:
            problems += [Problem(None, None, None, flag, msg) for _, msg in exc.items]
    try:
        config = with_cli_buckets(config, dirs)
    except ConfigError as exc:
        problems += exc.problems
    if problems:
        raise ConfigError(problems)
    if overrides:
        config = dataclasses.replace(config, runner=dataclasses.replace(config.runner, **overrides))
    return config


def with_metrics_listen(config: Config, text: str) -> Config:
    """`config` serving /metrics on `--metrics-listen` (checked as `[metrics] listen` is)."""
    from obtui.config.listen import listen_address
    from obtui.config.model import MetricsConfig

    try:
        listen = listen_address(text)
    except Invalid as exc:
        raise ConfigError([Problem(None, None, None, "--metrics-listen", str(exc))]) from None
    return dataclasses.replace(config, metrics=MetricsConfig(listen=listen))
