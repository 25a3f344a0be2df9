"""Acceptance 5 (kill -9 mid-burst) and 7 (config errors, hot reload)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from obtui.config.model import RuleConfig
from tests.helpers import db_rows, make_config, obtui, running_engine, success_count, wait_for


def _start(state: Path, *dirs: Path, config: Path | None = None) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "obtui", "--headless", "--state-dir", str(state)]
    if config:
        args += ["--config", str(config)]
    env = {**os.environ, "OBTUI_CONFIG": str(state.parent / "none.toml")}
    return subprocess.Popen(
        [*args, *map(str, dirs)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )


def test_kill_9_mid_burst_then_restart_exactly_once(buckets):
    inc, _, state = buckets
    proc = _start(state, inc)
    try:
        wait_for(lambda: (state / "status.json").exists(), what="runner up")
        for i in range(2000):
            (inc / f"k{i:04d}.txt").write_text(f"kill test {i}\n")
        wait_for(lambda: success_count(state) >= 300, timeout=60, what="some progress")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    r = obtui("--headless", "--once", "--state-dir", str(state), str(inc))
    assert r.returncode == 0, r.stderr
    assert db_rows(state, "pragma integrity_check") == [("ok",)]
    assert db_rows(state, "select count(*), count(distinct file_path) from successes") == [(2000, 2000)]
    notes = sorted(p.name for p in inc.glob("*.obs.md"))
    assert len(notes) == 2000
    assert not list(inc.glob(".obtui-*")), "a temp file was left behind"


def test_config_errors_exit_2_naming_key_and_line(tmp_path):
    inc = tmp_path / "in"
    inc.mkdir()
    cases = {
        "syntax": ("[runner]\nconcurrency = = 4\n", 2, ["syntax"]),
        "unknown": ("[runner]\nconcurency = 4\n", 2, ["concurency", "did you mean 'concurrency'"]),
        "glob": ('[[rules]]\nname = "g"\npatterns = ["[abc"]\n', 3, ["patterns", "[abc"]),
        "regex": ('[[rules]]\nname = "r"\npatterns = ["*"]\ngrep = "(unclosed"\n', 4, ["grep", "(unclosed"]),
        "command": (
            '[[rules]]\nname = "c"\npatterns = ["*"]\naction = "command"\ncommand = "cp {path} /tmp"\n',
            5,
            ["command", "list"],
        ),
        "bucket": ('[[buckets]]\npath = "/no/such/bucket/obtui"\n', 2, ["/no/such/bucket/obtui"]),
    }
    for name, (text, line, needles) in cases.items():
        cfg = tmp_path / f"{name}.toml"
        cfg.write_text(text)
        r = obtui("--check-config", "--config", str(cfg), str(inc))
        assert r.returncode == 2, (name, r.stdout, r.stderr)
        assert f"{cfg.name}:{line}" in r.stderr, (name, r.stderr)
        for n in needles:
            assert n in r.stderr, (name, n, r.stderr)


def test_hot_reload_valid_changes_matching_invalid_keeps_rules(buckets, tmp_path):
    inc, _, state = buckets
    cfg = tmp_path / "obtui.toml"
    cfg.write_text(
        textwrap.dedent(
            f"""
            [runner]
            debounce_ms = 200
            [[buckets]]
            path = "{inc}"
            [[rules]]
            name = "texts"
            patterns = ["*.txt"]
            """
        )
    )
    from obtui.config.loader import load_config

    config = load_config(cfg, required=True)
    with running_engine(config, state) as engine:
        (inc / "a.txt").write_text("a\n")
        (inc / "b.log").write_text("b\n")
        wait_for(lambda: success_count(state) == 1, what="only the .txt")
        # Invalid edit: old rules stay, a Configuration error is recorded.
        cfg.write_text(cfg.read_text().replace('patterns = ["*.txt"]', 'patterns = ["*.txt"]\ngrep = "(bad"'))
        wait_for(
            lambda: db_rows(state, "select count(*) from errors where category='Configuration'")[0][0] == 1
        )
        assert engine.snapshot().rules == ("texts",)
        # Valid edit: .log files match now, without a restart.
        cfg.write_text(
            cfg.read_text().replace('grep = "(bad"', "").replace('["*.txt"]', '["*.txt", "*.log"]')
        )
        wait_for(lambda: "rules changed" in (engine.snapshot().last_reload or ""), what="reload applied")
        (inc / "c.log").write_text("c\n")
        wait_for(lambda: (inc / "c.obs.md").exists(), what="new pattern processed")


def test_reload_through_apply_config_adds_bucket(buckets):
    inc, upl, state = buckets
    with running_engine(make_config([inc]), state) as engine:
        diff = engine.apply_config(make_config([inc, upl], [RuleConfig(name="notes")]))
        assert diff.buckets_added == (str(upl.resolve()),)
        wait_for(lambda: str(upl.resolve()) in engine.watchers and engine.watchers[str(upl.resolve())].alive)
        (upl / "u.txt").write_text("u\n")
        wait_for(lambda: success_count(state) == 1)
