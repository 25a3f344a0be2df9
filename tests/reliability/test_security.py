"""Security: hostile file names never become shell syntax or YAML, outputs and moves never leave the
bucket, and the state dir is private."""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from pathlib import Path

from obtui.config.model import PostAction, RuleConfig
from tests.helpers import (
    db_rows,
    engine_idle,
    make_config,
    obtui,
    running_engine,
    success_count,
    toml_str,
    wait_for,
)

HOSTILE = [
    "; rm -rf ~ #",
    "$(touch pwned)",
    "`touch pwned2`",
    "--help",
    "-rf",
    "| tee leaked",
    "&& touch pwned3 &&",
    "a b  c",
    'it\'s "quoted"',
    "{path} {name}",
    "line\nbreak",
    "*",
    "[a]",
    "> redirected",
    "${HOME}",
]

LOGGER = "import json, sys\nwith open({log!r}, 'a') as f:\n    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"


def test_hostile_names_reach_a_command_as_one_argument_and_nothing_else_runs(tmp_path):
    """A file name full of shell syntax (`; rm -rf ~`, `$(…)`, backticks, `--help`, placeholders) reaches a command rule as exactly one argument, and nothing else runs."""
    bucket, state, log = tmp_path / "bucket", tmp_path / "state", tmp_path / "argv.log"
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    for d in (bucket, home, cwd):
        d.mkdir()
    (home / "canary").write_text("still here\n")
    command = [sys.executable, "-c", LOGGER.format(log=str(log)), "{name}", "{path}", "{rel}", "{stem}"]
    cfg = tmp_path / "obtui.toml"
    cfg.write_text(
        f"""
[[rules]]
name = "log-argv"
patterns = ["*"]
action = "command"
command = [{", ".join(toml_str(a) for a in command)}]
"""
    )
    for name in HOSTILE:
        (bucket / name).write_text(f"content of {name!r}\n")
    old = os.path.getmtime(bucket) - 60
    for name in HOSTILE:
        os.utime(bucket / name, (old, old))
    r = obtui(
        "--headless",
        "--once",
        "--config",
        str(cfg),
        "--state-dir",
        str(state),
        str(bucket),
        cwd=cwd,
        env={"HOME": str(home)},
    )
    assert r.returncode == 0, r.stderr[-3000:]
    lines = log.read_text().splitlines()
    assert len(lines) == len(HOSTILE), lines
    got = sorted(json.loads(line) for line in lines)
    want = sorted([n, str(bucket / n), n, Path(n).stem] for n in HOSTILE)
    assert got == want
    assert success_count(state) == len(HOSTILE)
    # Nothing a shell would have done happened.
    assert (home / "canary").read_text() == "still here\n"
    strays = [
        p for p in tmp_path.rglob("*") if p.name in ("pwned", "pwned2", "pwned3", "leaked", "redirected")
    ]
    assert not strays, strays
    assert not list(cwd.iterdir())


FRONTMATTER_NAMES = [
    'quote".txt',
    "it's.txt",
    "key: value.txt",
    "line\nbreak.txt",
    "---.txt",
    "--- \n---\nsource: etc passwd.txt",
    "# hash.txt",
    "tab\there.txt",
    "a: [b, c].txt",
    "{ x: 1 }.txt",
    "null: ~.txt",
    "back\\slash.txt",
    "carriage\rreturn.txt",
    "uni—ć☃ 🙂.txt",
    "&anchor *alias !tag.txt",
    "trailing space .txt",
]

_KEY = re.compile(r"^([a-z_][a-z0-9_]*):(?: (.*))?$")


def parse_frontmatter(text: str) -> dict[str, object]:
    """Strict: every line is `key: <JSON value>`, `key: []`, or `key:` and `  - <JSON value>` items."""
    assert text.startswith("---\n"), text[:80]
    head, sep, _ = text[4:].partition("\n---\n")
    assert sep, "frontmatter not closed"
    out: dict[str, object] = {}
    current: list[object] | None = None
    for line in head.split("\n"):
        if line.startswith("  - ") and current is not None:
            current.append(json.loads(line[4:]))
            continue
        m = _KEY.match(line)
        assert m, f"not a frontmatter line: {line!r}"
        key, value = m.groups()
        assert key not in out, f"duplicate key {key}"
        if value is None:
            out[key] = current = []
        else:
            out[key] = json.loads(value)
            current = None
    return out


def test_note_frontmatter_survives_quotes_colons_and_newlines_in_names(tmp_path):
    """A note's frontmatter stays well-formed for names with quotes, colons, newlines, `---` or YAML syntax: every value parses as JSON and holds exactly the real name."""
    bucket, state = tmp_path / "bucket", tmp_path / "state"
    bucket.mkdir()
    for name in FRONTMATTER_NAMES:
        (bucket / name).write_text("hello TODO\n")
    old = os.path.getmtime(bucket) - 60
    for name in FRONTMATTER_NAMES:
        os.utime(bucket / name, (old, old))
    r = obtui("--headless", "--once", "--state-dir", str(state), str(bucket))
    assert r.returncode == 0, r.stderr[-3000:]
    rows = db_rows(state, "select file_path, output_path from successes")
    assert len(rows) == len(FRONTMATTER_NAMES)
    keys = None
    for source, output in rows:
        fm = parse_frontmatter(Path(output).read_text())
        assert fm["source"] == source
        assert fm["rel"] == Path(source).name
        assert fm["bucket"] == str(bucket)
        assert fm["rule"] == "notes"
        keys = keys or set(fm)
        assert set(fm) == keys, "a name added or removed a frontmatter key"
    assert {Path(s).name for s, _ in rows} == set(FRONTMATTER_NAMES)


def _errors(state: Path) -> list[tuple[str, str, str]]:
    return db_rows(state, "select file_path, category, json from errors")


def test_outputs_and_moves_never_leave_the_bucket(tmp_path):
    """An output_dir of `../escape`, an output_dir or move target through a symlink pointing outside, and a symlinked file pointing outside never read or write outside the bucket: an error record is written instead."""
    bucket, state = tmp_path / "bucket", tmp_path / "state"
    outside = {n: tmp_path / n for n in ("escape", "escape2", "via-link", "via-move-link")}
    bucket.mkdir()
    outside["via-link"].mkdir()
    outside["via-move-link"].mkdir()
    (bucket / "linked").symlink_to(outside["via-link"])
    (bucket / "out").symlink_to(outside["via-move-link"])
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET TODO\n")
    rules = [
        RuleConfig(name="dotdot", patterns=("*.esc",), output_dir="../escape"),
        RuleConfig(name="dotdot-move", patterns=("*.esc2",), on_success=PostAction("move", "../escape2/")),
        RuleConfig(name="link-out", patterns=("*.lnk",), output_dir="linked"),
        RuleConfig(name="link-move", patterns=("*.mv",), on_success=PostAction("move", "out/")),
        RuleConfig(name="notes", patterns=("*.txt",)),
    ]
    with running_engine(make_config([bucket], rules), state) as engine:
        for name in ("x.esc", "x.esc2", "x.lnk", "x.mv"):
            (bucket / name).write_text(f"{name} TODO\n")
        (bucket / "leak.txt").symlink_to(secret)
        wait_for(lambda: len(_errors(state)) >= 5, timeout=30, what="five error records")
        wait_for(lambda: engine_idle(engine), what="idle")
    # Nothing was written outside the bucket.
    assert not outside["escape"].exists() and not outside["escape2"].exists()
    assert not list(outside["via-link"].iterdir())
    assert not list(outside["via-move-link"].iterdir())
    errors = {Path(p).name: (cat, json.loads(j)) for p, cat, j in _errors(state)}
    assert set(errors) == {"x.esc", "x.esc2", "x.lnk", "x.mv", "leak.txt"}, errors.keys()
    for name in ("x.esc", "x.esc2", "x.lnk", "x.mv"):
        assert errors[name][1]["error"]["name"] == "PathEscapeError", errors[name]
    assert errors["leak.txt"][0] == "FileAccess"
    assert errors["leak.txt"][1]["error"]["name"] == "SymlinkEscapeError"
    # The moves that were refused left their files where they were.
    assert (bucket / "x.esc2").exists() and (bucket / "x.mv").exists()
    # The secret never made it into a note.
    for note in bucket.rglob("*.obs.md"):
        assert "TOP SECRET" not in note.read_text()


def test_state_dir_is_private(tmp_path):
    """The state dir is created 0700 and obtui.db (with its WAL files) 0600, even under umask 000."""
    bucket, state = tmp_path / "bucket", tmp_path / "state"
    bucket.mkdir()
    (bucket / "a.txt").write_text("a\n")
    r = obtui("--headless", "--once", "--state-dir", str(state), str(bucket), preexec_fn=lambda: os.umask(0))
    assert r.returncode == 0, r.stderr[-3000:]
    assert success_count(state) == 1
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(state / "obtui.db").st_mode) == 0o600
    for suffix in ("-wal", "-shm"):
        p = state / f"obtui.db{suffix}"
        if p.exists():
            assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p
