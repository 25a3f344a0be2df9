"""Validation of `[[rules]]` entries and of the gitignore-style patterns they (and [runner]) use."""

from __future__ import annotations

import difflib
import os
import re
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from obtui.config.checks import (
    Checker,
    Invalid,
    boolean,
    check_keys,
    describe,
    duration,
    integer,
    shown,
    str_list,
    string,
)
from obtui.config.globs import glob_checker
from obtui.config.keylines import Path_
from obtui.config.model import COMMAND_PLACEHOLDERS, PostAction, RuleConfig

RULE_KEYS = (
    "name",
    "patterns",
    "ignore",
    "gitignore",
    "action",
    "grep",
    "tags",
    "output_dir",
    "command",
    "timeout",
    "retries",
    "on_success",
    "on_failure",
    "result_json",
    "folder_summary",
    "buckets",
)
RULE_ALIASES = {
    "pattern": "patterns",
    "glob": "patterns",
    "globs": "patterns",
    "exclude": "ignore",
    "excludes": "ignore",
    "cmd": "command",
    "args": "command",
    "argv": "command",
    "regex": "grep",
    "output": "output_dir",
    "retry": "retries",
    "max_retries": "retries",
    "bucket": "buckets",
}
ACTIONS = ("note", "command")
_PLACEHOLDERS = ", ".join("{" + p + "}" for p in COMMAND_PLACEHOLDERS)


def _inside_path(what: str) -> Callable[[Any], str]:
    """A folder written in the config (output_dir, move target): `~` expanded, no '..' escapes."""

    def conv(v: Any) -> str:
        if not isinstance(v, str) or not v.strip():
            raise Invalid(f"expected {what}, got {describe(v)}")
        t = os.path.expanduser(v.strip())
        if not os.path.isabs(t) and ".." in PurePosixPath(t.replace("\\", "/")).parts:
            raise Invalid(
                f"{shown(v)} climbs out of the bucket with '..'; use a folder inside the bucket "
                "or an absolute path"
            )
        return t

    return conv


def post_action(v: Any) -> PostAction:
    expected = 'expected "keep", "delete" or "move:DIR" (e.g. "move:processed/")'
    if not isinstance(v, str):
        raise Invalid(f"{expected}, got {describe(v)}")
    text = v.strip()
    if text.lower() in ("keep", "delete"):
        return PostAction(text.lower())  # type: ignore[arg-type]
    head, sep, target = text.partition(":")
    if sep and head.strip().lower() == "move":
        if not target.strip():
            raise Invalid(f'"move:" needs a folder after the colon, e.g. "move:processed/", got {shown(v)}')
        return PostAction("move", _inside_path("a folder")(target))
    hint = ""
    if text.lower().startswith("move"):
        hint = f'; write "move:{text[4:].strip(" :=") or "DIR"}"'
    raise Invalid(f"{expected}, got {shown(v)}{hint}")


def _grep(v: Any) -> str | None:
    if v is False or v == "":
        return None
    if not isinstance(v, str):
        raise Invalid(f'expected a regular expression string (or "" to turn grep off), got {describe(v)}')
    try:
        re.compile(v)
    except (re.error, OverflowError, RecursionError, ValueError) as e:
        raise Invalid(f"{shown(v)} is not a valid regular expression: {e}") from None
    return v


def _action(v: Any) -> str:
    if isinstance(v, str) and v in ACTIONS:
        return v
    hint = ""
    if isinstance(v, str) and (close := difflib.get_close_matches(v.lower(), ACTIONS, n=1, cutoff=0.5)):
        hint = f'; did you mean "{close[0]}"?'
    raise Invalid(f'expected "note" or "command", got {describe(v)}{hint}')


# What the command action substitutes: `{name}` exactly, in one pass; any other text in braces
# (`{print $1}` for awk, `{a: .b}` for jq) is passed through as is.
_PLACEHOLDER_LIKE_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _placeholder_problem(arg: str) -> str | None:
    for m in _PLACEHOLDER_LIKE_RE.finditer(arg):
        name = m.group(1)
        if name in COMMAND_PLACEHOLDERS:
            continue
        close = difflib.get_close_matches(name.lower(), COMMAND_PLACEHOLDERS, n=1, cutoff=0.6)
        guess = f"did you mean {{{close[0]}}}? " if close else ""
        return f"unknown placeholder {{{name}}} in {shown(arg)}; {guess}expected one of {_PLACEHOLDERS}"
    return None


def _command(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        try:
            suggestion = "[" + ", ".join(shown(a) for a in shlex.split(v)) + "]"
        except ValueError:
            suggestion = '["program", "arg", "{path}"]'
        raise Invalid(
            f"expected a list of strings (argv, no shell), got {describe(v)}; write command = {suggestion}"
        )
    if isinstance(v, list) and not v:
        raise Invalid(
            'expected a non-empty list of strings (argv, no shell), e.g. ["program", "{path}"], got []'
        )
    argv = str_list(_placeholder_problem, what="strings (argv, no shell)")(v)
    if not argv[0].strip():
        raise Invalid(items=[((0,), "expected the program to run as the first item, got an empty string")])
    return argv


def _patterns(check: Callable[[str], str | None]) -> Callable[[Any], tuple[str, ...]]:
    def conv(v: Any) -> tuple[str, ...]:
        out = str_list(check, what="gitignore-style patterns")(v)
        if not out:
            raise Invalid('expected at least one pattern, e.g. ["*"] for every file, got []')
        return out

    return conv


def name_rules(checker: Checker, raw: Any) -> None:
    """Give every rule its display name early, so all messages say `rules[2] (transcode)`."""
    if isinstance(raw, list):
        for i, entry in enumerate(raw):
            name = entry.get("name") if isinstance(entry, dict) else None
            checker.rule_names[i] = (
                name.strip() if isinstance(name, str) and name.strip() else f"rule-{i + 1}"
            )


def build_rules(
    checker: Checker,
    raw: Any,
    bucket_paths: Sequence[Path],
    resolve_dir: Callable[[Any], Path],
    elsewhere: dict[str, str],
) -> tuple[RuleConfig, ...] | None:
    """Convert the `rules` array; None when there are no rules (the caller uses the defaults).

    `resolve_dir` turns a bucket path as written into an existing absolute folder, or raises Invalid;
    `elsewhere` maps keys of other tables to where they belong, for unknown-key hints.
    """
    if raw is None or raw == []:
        return None
    if not isinstance(raw, list):
        extra = " (single brackets)" if isinstance(raw, dict) else ""
        checker.error(
            ("rules",), f"expected [[rules]] entries (an array of tables), got {describe(raw)}{extra}"
        )
        return None
    name_rules(checker, raw)
    pattern = glob_checker(bucket_paths, negation_ok=False)
    ignore = glob_checker(bucket_paths, negation_ok=True)
    rules: list[RuleConfig] = []
    first_seen: dict[str, int] = {}
    for i, entry in enumerate(raw):
        path = ("rules", i)
        if not isinstance(entry, dict):
            checker.error(path, f"expected a [[rules]] table, got {describe(entry)}")
            continue
        check_keys(
            checker,
            entry,
            path,
            RULE_KEYS,
            "a [[rules]] entry",
            aliases=RULE_ALIASES,
            elsewhere=elsewhere,
        )

        def get(
            key: str, conv: Callable[[Any], Any], default: Any, *, e: dict = entry, p: tuple = path
        ) -> Any:
            return checker.field(e, p, key, conv, default)

        name = checker.rule_names[i]
        if "name" in entry:
            get("name", string(what="a rule name"), None)
        if name in first_seen:
            line = checker.where(("rules", first_seen[name]))[0]
            at = f" on line {line}" if line else ""
            checker.error(
                path + ("name",),
                f'duplicate rule name "{name}" (also used by rules[{first_seen[name] + 1}]{at}); '
                "rule names must be unique",
            )
        first_seen.setdefault(name, i)

        action = get("action", _action, None if "action" in entry else "note")
        command = get("command", _command, ())
        if action is None:
            pass  # a bad action is already reported; whether command belongs here is unknown
        elif action == "command" and "command" not in entry:
            checker.error(
                path,
                'action = "command" needs a command: a list of strings, e.g. command = ["program", "{path}"]',
            )
        elif action == "note" and "command" in entry:
            checker.error(
                path + ("command",),
                'command is set but action is "note"; set action = "command" to run it, or remove command',
            )

        rules.append(
            RuleConfig(
                name=name,
                patterns=get("patterns", _patterns(pattern), ("*",)),
                ignore=get("ignore", str_list(ignore, what="gitignore-style patterns"), ()),
                gitignore=get("gitignore", boolean, False),
                action=action or "note",
                grep=get("grep", _grep, RuleConfig.grep),
                tags=get("tags", str_list(what="tags"), ()),
                output_dir=get(
                    "output_dir", _inside_path("a folder (relative to the bucket, or absolute)"), None
                ),
                command=command,
                timeout=get("timeout", duration(hi=7 * 86400, positive=True), RuleConfig.timeout),
                retries=get("retries", integer(0, 20), RuleConfig.retries),
                on_success=get("on_success", post_action, PostAction()),
                on_failure=get("on_failure", post_action, PostAction()),
                result_json=get("result_json", boolean, False),
                folder_summary=get("folder_summary", boolean, False),
                buckets=get("buckets", _bucket_list(resolve_dir), ()),
                line=checker.where(path)[0],
            )
        )
    return tuple(rules)


def _bucket_list(resolve_dir: Callable[[Any], Path]) -> Callable[[Any], tuple[str, ...]]:
    def conv(v: Any) -> tuple[str, ...]:
        written = str_list(what="bucket folders")(v)
        out: list[str] = []
        bad: list[tuple[Path_, str]] = []
        for i, p in enumerate(written):
            try:
                out.append(str(resolve_dir(p)))
            except Invalid as e:
                bad.extend(((i, *sub), msg) for sub, msg in e.items)
        if bad:
            raise Invalid(items=bad)
        return tuple(out)

    return conv
