"""The config loader: every problem names its file, line and key, and says what was expected."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obtui.config.describe import describe_config
from obtui.config.errors import ConfigError, Problem
from obtui.config.loader import load_config, parse_config_text
from obtui.config.locations import default_config_path, default_state_dir
from obtui.config.model import (
    DEFAULT_IGNORES,
    BucketConfig,
    Config,
    PostAction,
    RuleConfig,
    RunnerConfig,
    default_rules,
)
from obtui.config.rules import RULE_KEYS
from obtui.config.sample import sample_config_text, write_sample_config
from obtui.config.validate import RUNNER_KEYS

REPO = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> Config:
    return load_config(write(tmp_path, text), required=True)


def problems(tmp_path: Path, text: str) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return info.value.problems


def one(tmp_path: Path, text: str) -> Problem:
    found = problems(tmp_path, text)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def assert_problem(p: Problem, *, line: int, key: str, expected: str) -> None:
    """The three things every message must carry: where, which key, and what was expected."""
    assert p.line == line, str(p)
    assert p.key == key, str(p)
    assert expected in p.message, str(p)
    assert p.file is not None and p.file.endswith("config.toml")
    assert str(p).startswith(f"{p.file}:{line}:")


# -- files and defaults ------------------------------------------------------------------------


def test_empty_file_gives_defaults_with_source(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    config = load_config(path)
    assert config.runner == RunnerConfig()
    assert config.rules == default_rules()
    assert config.buckets == ()
    assert config.source == path.absolute()


def test_missing_default_file_gives_builtin_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBTUI_CONFIG", str(tmp_path / "nope.toml"))
    assert load_config(None) == Config()


def test_missing_required_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(missing, required=True)
    assert str(info.value) == f"{missing}: config file not found"


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expected a TOML file, but this is a folder"):
        load_config(tmp_path, required=True)


def test_not_utf8_names_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"[runner]\nconcurrency = 4 # caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    p = info.value.problems[0]
    assert (p.line, "not valid UTF-8") == (2, "not valid UTF-8") and "UTF-8" in p.message


def test_locations_follow_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBTUI_CONFIG", str(tmp_path / "c.toml"))
    monkeypatch.setenv("OBTUI_STATE_DIR", str(tmp_path / "state"))
    assert default_config_path() == tmp_path / "c.toml"
    assert default_state_dir() == tmp_path / "state"
    monkeypatch.delenv("OBTUI_CONFIG")
    monkeypatch.delenv("OBTUI_STATE_DIR")
    assert default_config_path().name == "config.toml"
    assert "obtui" in str(default_state_dir())


def test_locations_import_is_cheap() -> None:
    code = "import sys, obtui.config.locations; print(sorted({'tomlkit', 'textual', 'tree_sitter'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


# -- TOML syntax -----------------------------------------------------------------------------


def test_syntax_error_has_line_and_col(tmp_path: Path) -> None:
    p = one(tmp_path, "[runner]\nconcurrency = = 4\n")
    assert (p.line, p.col, p.key) == (2, 15, "")
    assert p.message.startswith("TOML syntax error: invalid value")
    assert str(p) == f"{p.file}:2:15: {p.message}"


def test_duplicate_key_is_a_syntax_error(tmp_path: Path) -> None:
    p = one(tmp_path, "[runner]\nconcurrency = 4\nconcurrency = 5\n")
    assert p.line == 3 and 'key "concurrency" is already defined' in p.message


def test_unclosed_array_says_end_of_file(tmp_path: Path) -> None:
    p = one(tmp_path, '[[rules]]\npatterns = ["*.txt",\n')
    assert p.line == 2 and "the file ends before the" in p.message and "starts on line 2" in p.message


# -- unknown keys ------------------------------------------------------------------------------


def test_unknown_runner_key_suggests_nearest(tmp_path: Path) -> None:
    p = one(tmp_path, "[runner]\nconcurency = 4\n")
    assert_problem(p, line=2, key="runner.concurency", expected="did you mean 'concurrency'?")
    assert p.message == "unknown key 'concurency' in [runner]; did you mean 'concurrency'?"


def test_unknown_key_alias_and_other_table(tmp_path: Path) -> None:
    found = problems(tmp_path, "[runner]\nworkers = 4\ntimeout = 3\n")
    assert_problem(found[0], line=2, key="runner.workers", expected="did you mean 'concurrency'?")
    assert_problem(found[1], line=3, key="runner.timeout", expected="'timeout' belongs in [[rules]] entries")


def test_unknown_top_level_table(tmp_path: Path) -> None:
    p = one(tmp_path, "[runer]\nconcurrency = 4\n")
    assert_problem(
        p, line=1, key="runer", expected="unknown table [runer] at the top level; did you mean [runner]?"
    )


def test_runner_key_at_top_level(tmp_path: Path) -> None:
    p = one(tmp_path, "concurrency = 4\n")
    assert_problem(p, line=1, key="concurrency", expected="it belongs in [runner]")


def test_unknown_rule_key_names_rule(tmp_path: Path) -> None:
    p = one(tmp_path, '[[rules]]\nname = "a"\n\n[[rules]]\nname = "sync"\ncmd = ["rsync"]\n')
    assert_problem(p, line=6, key="rules[2] (sync).cmd", expected="did you mean 'command'?")


def test_unknown_bucket_and_ui_keys(tmp_path: Path) -> None:
    found = problems(tmp_path, f'[[buckets]]\npath = "{tmp_path}"\nrecursiv = true\n[ui]\ntheem = "x"\n')
    assert_problem(found[0], line=3, key="buckets[1].recursiv", expected="did you mean 'recursive'?")
    assert_problem(found[1], line=5, key="ui.theem", expected="did you mean 'theme'?")


# -- types and ranges ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('concurrency = "4"', 'expected an integer from 1 to 256, got a string "4"'),
        ("concurrency = true", "expected an integer from 1 to 256, got a boolean true"),
        ("concurrency = 0", "expected an integer from 1 to 256, got 0"),
        ("concurrency = 257", "expected an integer from 1 to 256, got 257"),
        ("note_processes = -1", "expected an integer from 0 to 64, got -1"),
        ("debounce_ms = 600001", "expected from 0 to 600_000 ms, got 600001"),
        ("debounce_ms = -1", "expected from 0 to 600_000 ms, got -1"),
        ('debounce_ms = "soon"', 'expected a duration like "90s"'),
        ("max_queue_size = 5", "expected an integer from 10 to 10_000_000, got 5"),
        ("breaker_threshold = 0", "expected an integer of at least 1, got 0"),
        (
            'max_file_size = "lots"',
            'expected a size like "512 MB", "1.5 GiB", "10k" or a whole number of bytes',
        ),
        ("max_file_size = 0", "expected a size of at least 1 bytes, got 0"),
        ('rescan_seconds = "5 minutess"', "unknown unit 'minutess'"),
        ("rescan_seconds = 0", "expected a duration of at least 1s and at most 1d, got 0"),
        ("retry_base_seconds = 0", "expected a duration of more than 0s and at most 1h, got 0"),
        ("poll_seconds = 0.01", "or a polling interval of at least 100ms, got 0.01"),
        ("status_interval_seconds = inf", "expected a duration like"),
        (
            "ignore = '*.bak'",
            'expected a list of gitignore-style patterns, got a string "*.bak"; write ["*.bak"]',
        ),
    ],
)
def test_runner_types_and_ranges(tmp_path: Path, line: str, expected: str) -> None:
    key = line.split(" =")[0]
    p = one(tmp_path, f"# settings\n[runner]\n{line}\n")
    assert_problem(p, line=3, key=f"runner.{key}", expected=expected)


def test_runner_cross_field_ranges(tmp_path: Path) -> None:
    found = problems(
        tmp_path, '[runner]\ndebounce_ms = "2s"\nmax_delay_ms = 1000\nretry_max_seconds = "500ms"\n'
    )
    assert_problem(
        found[0],
        line=3,
        key="runner.max_delay_ms",
        expected="max_delay_ms (1000) must be at least debounce_ms (2000)",
    )
    assert_problem(
        found[1], line=4, key="runner.retry_max_seconds", expected="must be at least retry_base_seconds (1)"
    )


def test_runner_human_units(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [runner]
        debounce_ms = "2s"
        max_delay_ms = "1m"
        rescan_seconds = "2m"
        poll_seconds = "1.5s"
        max_file_size = "1.5 GiB"
        shutdown_grace_seconds = 3
        metrics_interval_seconds = "1h30m"
        ignore = ["*.bak", "cache/", "!keep.bak"]
        """,
    )
    r = config.runner
    assert (r.debounce_ms, r.max_delay_ms, r.rescan_seconds, r.poll_seconds) == (2000, 60_000, 120.0, 1.5)
    assert (r.max_file_size, r.shutdown_grace_seconds, r.metrics_interval_seconds) == (
        1_610_612_736,
        3.0,
        5400.0,
    )
    assert r.ignore == ("*.bak", "cache/", "!keep.bak")


def test_toml_time_value_gets_a_hint(tmp_path: Path) -> None:
    p = one(tmp_path, '[[rules]]\nname = "x"\ntimeout = 01:00:00\n')
    assert_problem(
        p, line=3, key="rules[1] (x).timeout", expected="got a time 01:00:00; TOML read it as a time of day"
    )


def test_table_shapes(tmp_path: Path) -> None:
    found = problems(tmp_path, "runner = 3\n[buckets]\npath = 'x'\n[[ui]]\ntheme = 'a'\n")
    assert_problem(found[0], line=1, key="runner", expected="expected a [runner] table, got an integer 3")
    assert_problem(
        found[1], line=2, key="buckets", expected="expected [[buckets]] entries (an array of tables)"
    )
    assert_problem(found[2], line=4, key="ui", expected="expected one [ui] table, got 1 [[ui]] entries")


def test_boolean_in_quotes(tmp_path: Path) -> None:
    p = one(tmp_path, '[[rules]]\nname = "x"\ngitignore = "true"\n')
    assert_problem(p, line=3, key="rules[1] (x).gitignore", expected="expected true or false without quotes")


# -- patterns -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("", "got an empty string"),
        ("[abc", "'[' at position 1 is never closed by ']'"),
        ("a]b", "']' at position 2 has no matching '['"),
        ("docs/../secret", "has a '..' segment"),
        ("./notes/*.md", "has a '.' segment"),
        ("~/inbox/*.txt", "looks like an absolute path"),
        ("C:\\\\inbox\\\\*.txt", "looks like an absolute path"),
        ("!*.tmp", "matches nothing in patterns; to leave files out, list them in ignore"),
        ("trailing\\\\", "is not a valid gitignore-style pattern"),
    ],
)
def test_bad_patterns(tmp_path: Path, pattern: str, expected: str) -> None:
    p = one(tmp_path, f'[[rules]]\nname = "n"\npatterns = [\n  "*.txt",\n  "{pattern}",\n]\n')
    assert_problem(p, line=5, key="rules[1] (n).patterns[2]", expected=expected)
    assert p.col == 3


def test_absolute_pattern_naming_a_real_folder(tmp_path: Path) -> None:
    (tmp_path / "in" / "box").mkdir(parents=True)
    p = one(tmp_path, f'[[rules]]\nignore = ["{tmp_path}/in/box/*.txt"]\n')
    assert_problem(p, line=2, key="rules[1] (rule-1).ignore[1]", expected="looks like an absolute path")


def test_leading_slash_anchor_and_negated_ignore_are_fine(tmp_path: Path) -> None:
    config = load(
        tmp_path, '[[rules]]\npatterns = ["/inbox/*.txt", "docs/**/*.rst"]\nignore = ["*.md", "!README.md"]\n'
    )
    assert config.rules[0].patterns == ("/inbox/*.txt", "docs/**/*.rst")
    assert config.rules[0].ignore == ("*.md", "!README.md")


def test_empty_patterns_list(tmp_path: Path) -> None:
    p = one(tmp_path, "[[rules]]\npatterns = []\n")
    assert_problem(
        p, line=2, key="rules[1] (rule-1).patterns", expected='expected at least one pattern, e.g. ["*"]'
    )


def test_non_string_pattern_item(tmp_path: Path) -> None:
    p = one(tmp_path, '[[rules]]\npatterns = ["*.txt", 5]\n')
    assert_problem(
        p, line=2, key="rules[1] (rule-1).patterns[2]", expected="expected a string, got an integer 5"
    )


# -- grep, action, command, post-actions ------------------------------------------------------------


def test_bad_regex_includes_re_message(tmp_path: Path) -> None:
    p = one(tmp_path, '[[rules]]\nname = "n"\ngrep = "TODO|(FIXME"\n')
    assert_problem(
        p,
        line=3,
        key="rules[1] (n).grep",
        expected="is not a valid regular expression: missing ), unterminated subpattern",
    )


def test_grep_can_be_turned_off(tmp_path: Path) -> None:
    config = load(tmp_path, '[[rules]]\ngrep = ""\n[[rules]]\ngrep = false\n[[rules]]\n')
    assert [r.grep for r in config.rules] == [None, None, "TODO|FIXME"]


def test_unknown_action_suggests(tmp_path: Path) -> None:
    p = one(tmp_path, '[[rules]]\nname = "n"\naction = "comand"\ncommand = ["x"]\n')  # one problem, not two
    assert_problem(
        p,
        line=3,
        key="rules[1] (n).action",
        expected='expected "note" or "command", got a string "comand"; did you mean "command"?',
    )


def test_command_as_string_suggests_argv(tmp_path: Path) -> None:
    found = problems(
        tmp_path, '[[rules]]\nname = "transcode"\naction = "command"\ncommand = "ffmpeg -i {path}"\n'
    )
    assert len(found) == 1
    assert str(found[0]).endswith(
        "config.toml:4: rules[1] (transcode).command: expected a list of strings (argv, no shell), "
        'got a string "ffmpeg -i {path}"; write command = ["ffmpeg", "-i", "{path}"]'
    )


@pytest.mark.parametrize(
    ("command", "key", "expected"),
    [
        ("[]", "command", "expected a non-empty list of strings"),
        ('["ffmpeg", 3]', "command[2]", "expected a string, got an integer 3"),
        ('["", "{path}"]', "command[1]", "expected the program to run as the first item"),
        (
            '["conv", "{file}"]',
            "command[2]",
            'unknown placeholder {file} in "{file}"; expected one of {path}, {name}',
        ),
        ('["conv", "{pth}"]', "command[2]", "did you mean {path}?"),
        ('["conv", "{PATH}"]', "command[2]", "unknown placeholder {PATH}"),
    ],
)
def test_bad_commands(tmp_path: Path, command: str, key: str, expected: str) -> None:
    p = one(tmp_path, f'[[rules]]\nname = "c"\naction = "command"\ncommand = {command}\n')
    assert_problem(p, line=4, key=f"rules[1] (c).{key}", expected=expected)


def test_command_missing_for_command_action(tmp_path: Path) -> None:
    p = one(tmp_path, '# c\n[[rules]]\nname = "c"\naction = "command"\n')
    assert_problem(p, line=2, key="rules[1] (c)", expected='action = "command" needs a command')


def test_command_with_note_action(tmp_path: Path) -> None:
    p = one(tmp_path, '[[rules]]\nname = "c"\ncommand = ["echo"]\n')
    assert_problem(p, line=3, key="rules[1] (c).command", expected='command is set but action is "note"')


def test_good_command_with_placeholders_and_other_braces(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [[rules]]
        name = "c"
        action = "command"
        command = ["conv", "{path}", "{output_dir}/{stem}.out", "{print $1}", "{a: .b}", "a}b{", "{rel}{suffix}{name}{dir}{bucket}"]
        timeout = "1h"
        retries = 3
        """,
    )
    rule = config.rules[0]
    assert rule.command[3:6] == ("{print $1}", "{a: .b}", "a}b{")
    assert (rule.timeout, rule.retries) == (3600.0, 3)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("keep", PostAction("keep")),
        ("delete", PostAction("delete")),
        ("move:processed/", PostAction("move", "processed/")),
        ("move:/srv/done", PostAction("move", "/srv/done")),
    ],
)
def test_post_actions(tmp_path: Path, value: str, expected: PostAction) -> None:
    config = load(tmp_path, f'[[rules]]\non_success = "{value}"\non_failure = "{value}"\n')
    assert config.rules[0].on_success == expected == config.rules[0].on_failure


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("move:", '"move:" needs a folder after the colon'),
        ("move processed/", 'got "move processed/"; write "move:processed/"'),
        ("archive", 'expected "keep", "delete" or "move:DIR"'),
        ("move:../out", "climbs out of the bucket with '..'"),
    ],
)
def test_bad_post_actions(tmp_path: Path, value: str, expected: str) -> None:
    p = one(tmp_path, f'[[rules]]\nname = "r"\non_failure = "{value}"\n')
    assert_problem(p, line=3, key="rules[1] (r).on_failure", expected=expected)


def test_output_dir_home_and_escape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    config = load(tmp_path, '[[rules]]\noutput_dir = "~/notes"\n[[rules]]\noutput_dir = "notes"\n')
    assert [r.output_dir for r in config.rules] == [str(tmp_path / "notes"), "notes"]
    p = one(tmp_path, '[[rules]]\noutput_dir = "../x"\n')
    assert_problem(p, line=2, key="rules[1] (rule-1).output_dir", expected="climbs out of the bucket")


# -- rule names and lines -----------------------------------------------------------------------


def test_duplicate_rule_names_point_at_both(tmp_path: Path) -> None:
    p = one(tmp_path, '[[rules]]\nname = "a"\n\n[[rules]]\nname = "a"\n')
    assert_problem(
        p,
        line=5,
        key="rules[2] (a).name",
        expected='duplicate rule name "a" (also used by rules[1] on line 1)',
    )


def test_unnamed_rules_and_lines(tmp_path: Path) -> None:
    config = load(tmp_path, '# rules\n[[rules]]\npatterns = ["*.a"]\n\n[[rules]]\nname = "b"\n\n[[rules]]\n')
    assert [(r.name, r.line) for r in config.rules] == [("rule-1", 2), ("b", 5), ("rule-3", 8)]


def test_inline_rules_array(tmp_path: Path) -> None:
    config = load(tmp_path, 'rules = [\n  {name = "a", patterns = ["*.a"]},\n  {name = "b"},\n]\n')
    assert [(r.name, r.line) for r in config.rules] == [("a", 2), ("b", 3)]
    p = one(tmp_path, 'rules = [\n  {name = "a"},\n  {name = "b", retries = 99},\n]\n')
    assert_problem(p, line=3, key="rules[2] (b).retries", expected="expected an integer from 0 to 20, got 99")


def test_no_rules_means_default_rules(tmp_path: Path) -> None:
    assert load(tmp_path, "[runner]\nconcurrency = 2\n").rules == default_rules()
    assert load(tmp_path, "rules = []\n").rules == default_rules()


def test_full_rule(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    config = load(
        tmp_path,
        """
        [[rules]]
        name = "notes"
        patterns = ["*.txt"]
        ignore = ["drafts/"]
        gitignore = true
        tags = ["a", "b"]
        result_json = true
        folder_summary = true
        buckets = ["in"]
        """,
    )
    assert config.rules[0] == RuleConfig(
        name="notes",
        patterns=("*.txt",),
        ignore=("drafts/",),
        gitignore=True,
        tags=("a", "b"),
        result_json=True,
        folder_summary=True,
        buckets=(str((tmp_path / "in").resolve()),),
        line=1,
    )


def test_rule_bucket_must_exist(tmp_path: Path) -> None:
    p = one(tmp_path, '[[rules]]\nname = "r"\nbuckets = ["nope"]\n')
    assert_problem(p, line=3, key="rules[1] (r).buckets[1]", expected='folder "nope" (resolved to')


# -- buckets, paths, environment -------------------------------------------------------------------


def test_relative_bucket_resolves_against_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf" / "inbox").mkdir(parents=True)
    monkeypatch.chdir(REPO)
    path = write(tmp_path / "conf", '[[buckets]]\npath = "inbox"\nrecursive = false\npoll_seconds = "2s"\n')
    config = load_config(path)
    assert config.buckets == (
        BucketConfig(path=(tmp_path / "conf" / "inbox").resolve(), recursive=False, poll_seconds=2.0, line=1),
    )


def test_relative_bucket_without_file_uses_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "inbox").mkdir()
    monkeypatch.chdir(tmp_path)
    config = parse_config_text('[[buckets]]\npath = "inbox"\n', None)
    assert config.buckets[0].path == (tmp_path / "inbox").resolve()
    assert config.source is None


def test_home_expansion_in_bucket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Inbox").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path))
    config = load(tmp_path, '[[buckets]]\npath = "~/Inbox"\n')
    assert config.buckets[0].path == (tmp_path / "Inbox").resolve()


def test_missing_bucket_names_line(tmp_path: Path) -> None:
    p = one(tmp_path, '[runner]\n\n[[buckets]]\npath = "missing"\n')
    assert_problem(
        p,
        line=4,
        key="buckets[1].path",
        expected=f'folder "missing" (resolved to {tmp_path.resolve() / "missing"}) does not exist',
    )


def test_bucket_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    p = one(tmp_path, '[[buckets]]\npath = "f"\n')
    assert_problem(p, line=2, key="buckets[1].path", expected="expected a folder, but")


def test_bucket_without_path(tmp_path: Path) -> None:
    p = one(tmp_path, "[[buckets]]\nrecursive = true\n")
    assert_problem(p, line=1, key="buckets[1]", expected="missing key path")


def test_duplicate_and_nested_buckets(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    found = problems(
        tmp_path, '[[buckets]]\npath = "a"\n[[buckets]]\npath = "./a/"\n[[buckets]]\npath = "a/b"\n'
    )
    assert_problem(found[0], line=4, key="buckets[2].path", expected="same folder as buckets[1] on line 1")
    assert_problem(found[1], line=6, key="buckets[3].path", expected="is inside buckets[1]")
    config = load(tmp_path, '[[buckets]]\npath = "a"\nrecursive = false\n[[buckets]]\npath = "a/b"\n')
    assert len(config.buckets) == 2


def test_env_expansion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "drop").mkdir()
    monkeypatch.setenv("OBTUI_TEST_DIR", str(tmp_path / "drop"))
    monkeypatch.setenv("OBTUI_TEST_EMPTY", "")
    monkeypatch.delenv("OBTUI_TEST_UNSET", raising=False)
    config = load(
        tmp_path,
        """
        [[buckets]]
        path = "${OBTUI_TEST_DIR}"
        [[rules]]
        name = "${OBTUI_TEST_UNSET:-fallback}"
        tags = ["${OBTUI_TEST_EMPTY:-was-empty}", "x-${OBTUI_TEST_EMPTY}-y", "$${LITERAL}"]
        timeout = "${OBTUI_TEST_UNSET:-90s}"
        """,
    )
    assert config.buckets[0].path == (tmp_path / "drop").resolve()
    assert config.rules[0].name == "fallback"
    assert config.rules[0].tags == ("was-empty", "x--y", "${LITERAL}")
    assert config.rules[0].timeout == 90.0


def test_unset_env_without_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OBTUI_TEST_UNSET", raising=False)
    found = problems(
        tmp_path, '[[rules]]\nname = "r"\noutput_dir = "${OBTUI_TEST_UNSET}/out"\ntags = ["${oops"]\n'
    )
    assert_problem(
        found[0],
        line=3,
        key="rules[1] (r).output_dir",
        expected="environment variable OBTUI_TEST_UNSET is not set",
    )
    assert "${OBTUI_TEST_UNSET:-value}" in found[0].message
    assert_problem(
        found[1], line=4, key="rules[1] (r).tags[1]", expected="expected ${NAME} or ${NAME:-default}"
    )


# -- reporting -------------------------------------------------------------------------------


def test_all_problems_reported_in_file_order(tmp_path: Path) -> None:
    text = '[[rules]]\nname = "r"\nretries = -1\n\n[runner]\nconcurrency = 0\nbogus = 1\n[ui]\ntheme = ""\n'
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    err = info.value
    assert [p.line for p in err.problems] == [3, 6, 7, 9]
    assert str(err).splitlines() == [str(p) for p in err.problems]
    assert (
        str(err)
        .splitlines()[0]
        .endswith("config.toml:3: rules[1] (r).retries: expected an integer from 0 to 20, got -1")
    )


def test_parse_config_text_without_source_says_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config_text("[runner]\nconcurrency = 0\n", None)
    assert str(info.value) == "line 2: runner.concurrency: expected an integer from 1 to 256, got 0"


def test_problem_str_without_line() -> None:
    assert str(Problem("c.toml", None, None, "", "config file not found")) == "c.toml: config file not found"
    assert str(Problem(None, None, None, "runner", "bad")) == "runner: bad"


# -- sample config ----------------------------------------------------------------------------


def test_sample_copies_are_identical() -> None:
    packaged = (REPO / "obtui" / "data" / "sample_config.toml").read_text(encoding="utf-8")
    assert (REPO / "sample_config.toml").read_text(encoding="utf-8") == packaged == sample_config_text()


def test_sample_loads_and_documents_defaults(tmp_path: Path) -> None:
    dest = write_sample_config(tmp_path / "deep" / "config.toml")
    config = load_config(dest, required=True)
    assert config.runner == RunnerConfig()
    assert [r.name for r in config.rules] == ["notes"]
    notes = config.rules[0]
    assert notes.patterns == ("*.txt", "*.md", "docs/**/*.rst") and notes.ignore == ("*.tmp", "drafts/")
    assert (notes.gitignore, notes.grep, notes.output_dir) == (True, "TODO|FIXME", "notes")
    assert config.ui.theme == "obtui-dark"


def test_sample_commented_examples_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Uncommenting the example buckets and the transcode rule gives a valid config."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SCANS_DIR", raising=False)
    (tmp_path / "Inbox").mkdir()
    (tmp_path / "Scans").mkdir()
    lines = sample_config_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# [[buckets]]"))
    code = re.compile(r"^# (\[\[\w+\]\]|[a-z_]+ = )")
    out = [line[2:] if i >= start and code.match(line) else line for i, line in enumerate(lines)]
    config = parse_config_text("\n".join(out), tmp_path / "config.toml")
    assert [b.path for b in config.buckets] == [
        (tmp_path / "Inbox").resolve(),
        (tmp_path / "Scans").resolve(),
    ]
    transcode = config.rules[1]
    assert (transcode.name, transcode.action, transcode.timeout, transcode.retries) == (
        "transcode",
        "command",
        3600.0,
        3,
    )
    assert (str(transcode.on_success), str(transcode.on_failure)) == ("move:processed/", "move:failed/")


def test_sample_documents_every_option() -> None:
    text = sample_config_text()
    runner = tomlkit.parse(text)["runner"]
    assert set(runner) == set(RUNNER_KEYS)
    for key in (*RULE_KEYS, "path", "recursive", "theme"):
        assert f"\n{key} = " in text or f"\n# {key} = " in text, key


def test_write_sample_never_overwrites(tmp_path: Path) -> None:
    dest = tmp_path / "config.toml"
    dest.write_text("mine")
    with pytest.raises(FileExistsError, match="already exists; obtui will not overwrite it"):
        write_sample_config(dest)
    assert dest.read_text() == "mine"


def test_describe_config(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    text = sample_config_text() + '\n[[buckets]]\npath = "in"\n'
    text = text.replace('on_success = "keep"', 'on_success = "move:done/"')
    config = parse_config_text(text, tmp_path / "config.toml")
    out = describe_config(config)
    assert f"Config file: {tmp_path / 'config.toml'}" in out
    assert "512 MB" in out and "500ms" in out and "1m" in out
    assert str((tmp_path / "in").resolve()) in out
    assert "1. notes" in out and "*.txt, *.md, docs/**/*.rst" in out and "move:done/" in out
    assert ", ".join(DEFAULT_IGNORES) in out
    assert "built-in defaults" in describe_config(Config())


# -- robustness ----------------------------------------------------------------------------------

KEYS = sorted({*RUNNER_KEYS, *RULE_KEYS, "path", "recursive", "theme", "concurency", "x"})
HEADERS = ["[runner]", "[[buckets]]", "[[rules]]", "[ui]", "[rules.x]", "[[runner]]", "[buckets]", "[x]"]
scalars = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(
        ["1h", "500ms", "512 MB", "${HOME}", "${NOPE_X}", "${", "move:", "[", "..", "/", "{path}", "~"]
    ),
)
values = st.one_of(
    scalars, st.lists(scalars, max_size=4), st.dictionaries(st.sampled_from(KEYS), scalars, max_size=3)
)


def _toml_value(v: object) -> str:
    try:
        return tomlkit.item(v).as_string()
    except Exception:
        return '"?"'


toml_lines = st.one_of(
    st.sampled_from(HEADERS),
    st.tuples(st.sampled_from(KEYS), values).map(lambda kv: f"{kv[0]} = {_toml_value(kv[1])}"),
    st.text(max_size=20),
)


tables = st.dictionaries(st.sampled_from(KEYS), values, max_size=6)
documents = st.dictionaries(
    st.sampled_from(["runner", "buckets", "rules", "ui", "runer", "concurrency"]),
    st.one_of(tables, st.lists(tables, max_size=3), scalars),
    max_size=4,
)


def _dumps(doc: dict) -> str:
    try:
        return tomlkit.dumps(doc)
    except Exception:
        return ""


def _only_config_errors(text: str) -> None:
    try:
        config = parse_config_text(text, Path("/nonexistent-obtui/config.toml"))
    except ConfigError as e:
        assert e.problems and all(p.message for p in e.problems)
    else:
        assert isinstance(config, Config)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_arbitrary_text_only_raises_config_error(text: str) -> None:
    _only_config_errors(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(toml_lines, max_size=12))
def test_tomlish_documents_only_raise_config_error(lines: list[str]) -> None:
    _only_config_errors("\n".join(lines) + "\n")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents.map(_dumps))
def test_valid_toml_documents_only_raise_config_error(text: str) -> None:
    _only_config_errors(text)


def test_keylines_fallback_without_tree_sitter(tmp_path: Path) -> None:
    from obtui.config.keylines import _scan_positions

    pos = _scan_positions('[runner]\nconcurrency = 4\n[[rules]]\nname = "a"\n[[rules]]\n"name" = "b"\n')
    assert pos[("runner", "concurrency")] == (2, 1)
    assert pos[("rules", 1)] == (5, 1) and pos[("rules", 1, "name")] == (6, 1)
    assert os.path.basename(write(tmp_path, "").name) == "config.toml"


def test_cross_field_check_skips_invalid_values(tmp_path: Path) -> None:
    p = one(tmp_path, '[runner]\ndebounce_ms = "soon"\nmax_delay_ms = 100\n')
    assert p.key == "runner.debounce_ms"
