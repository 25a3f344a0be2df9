"""Turn parsed TOML (plain dicts and lists) into a `Config`, collecting every problem on the way."""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from obtui.config.checks import (
    Checker,
    Converter,
    Invalid,
    boolean,
    check_keys,
    describe,
    duration,
    integer,
    millis,
    shown,
    size,
    str_list,
)
from obtui.config.cluster import CLUSTER_KEYS, bucket_id, build_cluster, check_bucket_ids
from obtui.config.globs import glob_checker
from obtui.config.listen import listen_address
from obtui.config.model import (
    BucketConfig,
    Config,
    MetricsConfig,
    RunnerConfig,
    StoreConfig,
    UIConfig,
    default_rules,
)
from obtui.config.rules import RULE_KEYS, build_rules
from obtui.config.themes import theme_name

TOP_KEYS = ("runner", "buckets", "rules", "ui", "store", "cluster", "metrics")
BUCKET_KEYS = ("path", "recursive", "poll_seconds", "id")
UI_KEYS = ("theme",)
STORE_KEYS = ("keep",)
METRICS_KEYS = ("listen",)
RUNNER_ALIASES = {
    "workers": "concurrency",
    "threads": "concurrency",
    "jobs": "concurrency",
    "debounce": "debounce_ms",
    "delay_ms": "debounce_ms",
    "max_delay": "max_delay_ms",
    "rescan": "rescan_seconds",
    "rescan_interval": "rescan_seconds",
    "queue_size": "max_queue_size",
    "ignores": "ignore",
    "exclude": "ignore",
}
DAY = 86400.0


def _poll(v: Any) -> float:
    secs = duration(0, 3600)(v)
    if 0 < secs < 0.1:
        raise Invalid(
            f"expected 0 (use the native watcher) or a polling interval of at least 100ms, got {shown(v)}"
        )
    return secs


def runner_converters(ignore_check: Any) -> dict[str, Converter]:
    """One converter per [runner] key, in RunnerConfig field order."""
    return {
        "concurrency": integer(1, 256),
        "note_processes": integer(0, 64),
        "debounce_ms": millis(0, 600_000),
        "max_delay_ms": millis(0, 86_400_000),
        "rescan_seconds": duration(1, DAY),
        "poll_seconds": _poll,
        "max_file_size": size(1),
        "max_queue_size": integer(10, 10_000_000),
        "shutdown_grace_seconds": duration(0, 3600),
        "retry_base_seconds": duration(hi=3600, positive=True),
        "retry_max_seconds": duration(hi=DAY, positive=True),
        "breaker_threshold": integer(1),
        "breaker_reset_seconds": duration(hi=DAY, positive=True),
        "metrics_interval_seconds": duration(1, DAY),
        "status_interval_seconds": duration(0.1, 3600),
        "ignore": str_list(ignore_check, what="gitignore-style patterns"),
    }


RUNNER_KEYS = tuple(f.name for f in fields(RunnerConfig))
assert set(runner_converters(None)) == set(RUNNER_KEYS)


class _Dirs:
    """Resolves folders written in the config: `~` expanded, relative to the config file's folder."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def absolute(self, written: str) -> Path:
        p = Path(os.path.expanduser(written))
        if not p.is_absolute():
            p = self.base / p
        try:
            return p.resolve()
        except (OSError, RuntimeError, ValueError):
            return Path(os.path.normpath(p))

    def existing(self, v: Any) -> Path:
        if not isinstance(v, str) or not v.strip():
            raise Invalid(f"expected a folder path, got {describe(v)}")
        if "\0" in v:
            raise Invalid(f"expected a folder path, got {shown(v)} (contains a NUL character)")
        p = self.absolute(v)
        via = "" if str(p) == v else f" (resolved to {p})"
        try:
            if p.is_dir():
                return p
            exists = p.exists()
        except (OSError, ValueError) as e:
            raise Invalid(f"cannot use folder {shown(v)}{via}: {e}") from None
        if exists:
            raise Invalid(f"expected a folder, but {shown(v)}{via} is a file")
        raise Invalid(f"folder {shown(v)}{via} does not exist; create it or fix the path")


def _table(checker: Checker, data: dict[str, Any], key: str) -> dict[str, Any]:
    v = data.get(key, {})
    if isinstance(v, dict):
        return v
    if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
        checker.error((key,), f"expected one [{key}] table, got {len(v)} [[{key}]] entries (double brackets)")
    else:
        checker.error((key,), f"expected a [{key}] table, got {describe(v)}")
    return {}


def _owners(exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """Which table each known key belongs in, for "'timeout' belongs in [[rules]] entries"."""
    owners = {k: "[ui]" for k in UI_KEYS}
    owners |= {k: "[store]" for k in STORE_KEYS}
    owners |= {k: "[metrics]" for k in METRICS_KEYS}
    owners |= {k: "[[rules]] entries" for k in RULE_KEYS}
    owners |= {k: "[[buckets]] entries" for k in BUCKET_KEYS}
    owners |= {k: "[runner]" for k in RUNNER_KEYS}
    owners |= {k: "[cluster]" for k in CLUSTER_KEYS if k not in owners}
    return {k: v for k, v in owners.items() if k not in exclude}


def _check_top(checker: Checker, data: dict[str, Any]) -> None:
    owners = _owners()
    for key, value in data.items():
        if key in TOP_KEYS:
            continue
        if key in owners:
            msg = f"'{key}' is not a top-level key; it belongs in {owners[key]}"
        else:
            close = difflib.get_close_matches(key, TOP_KEYS, n=1, cutoff=0.6)
            what = f"table [{key}]" if isinstance(value, dict) else f"key '{key}'"
            hint = (
                f"did you mean [{close[0]}]?"
                if close
                else "expected [runner], [[buckets]], [[rules]], [ui], [store], [cluster] or [metrics]"
            )
            msg = f"unknown {what} at the top level; {hint}"
        checker.error((key,), msg)


def _runner(checker: Checker, table: dict[str, Any], buckets: list[Path]) -> RunnerConfig:
    path = ("runner",)
    check_keys(
        checker, table, path, RUNNER_KEYS, "[runner]", aliases=RUNNER_ALIASES, elsewhere=_owners(RUNNER_KEYS)
    )
    convs = runner_converters(glob_checker(buckets, negation_ok=True))
    bad = object()
    values = {k: checker.field(table, path, k, c, bad) for k, c in convs.items()}
    default = RunnerConfig()
    ok = {k for k, v in values.items() if v is not bad or k not in table}
    values = {k: (getattr(default, k) if v is bad else v) for k, v in values.items()}
    # Cross-field checks only between values that are valid on their own.
    if {"max_delay_ms", "debounce_ms"} <= ok and values["max_delay_ms"] < values["debounce_ms"]:
        key = "max_delay_ms" if "max_delay_ms" in table else "debounce_ms"
        checker.error(
            path + (key,),
            f"max_delay_ms ({values['max_delay_ms']}) must be at least debounce_ms ({values['debounce_ms']}): "
            "it caps how long a file that keeps changing can wait",
        )
    if {"retry_max_seconds", "retry_base_seconds"} <= ok and values["retry_max_seconds"] < values[
        "retry_base_seconds"
    ]:
        key = "retry_max_seconds" if "retry_max_seconds" in table else "retry_base_seconds"
        checker.error(
            path + (key,),
            f"retry_max_seconds ({values['retry_max_seconds']:g}) must be at least "
            f"retry_base_seconds ({values['retry_base_seconds']:g})",
        )
    return RunnerConfig(**values)


def _buckets(checker: Checker, raw: Any, dirs: _Dirs, cluster_mode: bool = False) -> tuple[BucketConfig, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        extra = (
            ' (single brackets); write [[buckets]] with path = "..." for each folder'
            if isinstance(raw, dict)
            else ""
        )
        checker.error(
            ("buckets",), f"expected [[buckets]] entries (an array of tables), got {describe(raw)}{extra}"
        )
        return ()
    out: list[BucketConfig] = []
    seen: dict[Path, int] = {}
    for i, entry in enumerate(raw):
        path = ("buckets", i)
        if not isinstance(entry, dict):
            hint = f"; write [[buckets]] then path = {shown(entry)}" if isinstance(entry, str) else ""
            checker.error(path, f"expected a [[buckets]] table, got {describe(entry)}{hint}")
            continue
        check_keys(
            checker,
            entry,
            path,
            BUCKET_KEYS,
            "a [[buckets]] entry",
            aliases={"dir": "path", "folder": "path"},
            elsewhere=_owners(BUCKET_KEYS),
        )
        if "path" not in entry:
            checker.error(path, 'missing key path: the folder to watch, e.g. path = "~/Inbox"')
            continue
        folder = checker.field(entry, path, "path", dirs.existing, None)
        recursive = checker.field(entry, path, "recursive", boolean, True)
        poll = checker.field(entry, path, "poll_seconds", _poll, None)
        bid = checker.field(entry, path, "id", bucket_id, None)
        if folder is None:
            continue
        if folder in seen:
            j = seen[folder]
            line = checker.where(("buckets", j))[0]
            at = f" on line {line}" if line else ""
            checker.error(
                path + ("path",), f"same folder as buckets[{j + 1}]{at} ({folder}); list each folder once"
            )
            continue
        seen[folder] = i
        out.append(
            BucketConfig(
                path=folder, recursive=recursive, poll_seconds=poll, line=checker.where(path)[0], id=bid
            )
        )
    for inner, outer in nested_buckets(out):
        checker.error(
            ("buckets", seen[inner.path], "path"),
            nested_message(inner.path, f"buckets[{seen[outer.path] + 1}]", outer.path),
        )
    if cluster_mode:
        check_bucket_ids(checker, tuple(out), seen)
    return tuple(out)


def nested_buckets(buckets: Sequence[BucketConfig]) -> list[tuple[BucketConfig, BucketConfig]]:
    """(inner, outer) for each bucket inside another, recursive, bucket (the first such outer)."""
    pairs = []
    for b in buckets:
        for outer in buckets:
            if outer is not b and outer.recursive and outer.path in b.path.parents:
                pairs.append((b, outer))
                break
    return pairs


def nested_message(inner: Path, outer_label: str, outer: Path) -> str:
    """Why a bucket inside a recursive bucket is refused (config entries and CLI folders alike)."""
    return (
        f"{inner} is inside {outer_label} ({outer}), which is recursive, so its files would belong "
        "to two buckets; set recursive = false on the outer one or remove this entry"
    )


def build_config(data: dict[str, Any], checker: Checker, base: Path, source: Path | None) -> Config:
    """Validate `data` (from TOML) into a Config; problems go to `checker`, defaults fill the gaps."""
    _check_top(checker, data)
    dirs = _Dirs(base)
    cluster = build_cluster(checker, data)  # cluster mode: see obtui.config.cluster
    buckets = _buckets(checker, data.get("buckets"), dirs, cluster_mode="cluster" in data)
    bucket_paths = [b.path for b in buckets]
    runner = _runner(checker, _table(checker, data, "runner"), bucket_paths)
    rules = build_rules(checker, data.get("rules"), bucket_paths, dirs.existing, _owners(RULE_KEYS))
    ui_table = _table(checker, data, "ui")
    check_keys(checker, ui_table, ("ui",), UI_KEYS, "[ui]", elsewhere=_owners(UI_KEYS))
    theme = checker.field(ui_table, ("ui",), "theme", theme_name, UIConfig.theme)
    store_table = _table(checker, data, "store")
    check_keys(checker, store_table, ("store",), STORE_KEYS, "[store]", elsewhere=_owners(STORE_KEYS))
    keep = checker.field(store_table, ("store",), "keep", duration(positive=True), StoreConfig.keep)
    metrics_table = _table(checker, data, "metrics")
    check_keys(
        checker,
        metrics_table,
        ("metrics",),
        METRICS_KEYS,
        "[metrics]",
        aliases={"address": "listen", "listen_address": "listen", "port": "listen"},
        elsewhere=_owners(METRICS_KEYS),
    )
    listen = checker.field(metrics_table, ("metrics",), "listen", listen_address, None)
    return Config(
        runner=runner,
        buckets=buckets,
        rules=rules if rules is not None else default_rules(),
        ui=UIConfig(theme=theme),
        source=source,
        store=StoreConfig(keep=keep),
        cluster=cluster,
        metrics=MetricsConfig(listen=listen),
    )
