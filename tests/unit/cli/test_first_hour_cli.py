"""Issue 13 (the first hour), command-line points, on the real binary with real folders."""

from __future__ import annotations

import os
import signal

from tests.helpers import headless_stderr, obtui, runner_started, start_headless, toml_str, wait_for


def test_13_2_headless_sigterm_exits_0_after_failures(buckets):
    inc, _, state = buckets
    proc = start_headless(state, inc)
    try:
        wait_for(lambda: runner_started(state, proc), what="runner start")
        (inc / "empty.txt").write_bytes(b"")  # an empty file is a FileContent failure
        wait_for(lambda: "empty.txt" in obtui("--errors", "--state-dir", str(state)).stdout, what="failure")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0, headless_stderr(proc)
    # --once keeps its answer: 1 when files failed.
    (inc / "empty2.txt").write_bytes(b"")
    r = obtui("--headless", "--once", "--state-dir", str(state), str(inc))
    assert r.returncode == 1, r.stderr
    assert os.path.exists(inc / "empty2.txt")


def _config_message(tmp_path, body: str) -> str:
    cfg = tmp_path / "c.toml"
    cfg.write_text(body)
    r = obtui("--check-config", "--config", str(cfg))
    assert r.returncode == 2, r.stdout + r.stderr
    return r.stderr


def test_13_4_cli_values_are_checked_like_config_values(tmp_path, buckets):
    inc, _, state = buckets
    cases = [
        (["--concurrency", "0"], "[runner]\nconcurrency = 0\n"),
        (["--concurrency", "1000"], "[runner]\nconcurrency = 1000\n"),
        (["--poll-seconds", "0.01"], "[runner]\npoll_seconds = 0.01\n"),
    ]
    for flags, toml in cases:
        r = obtui("--once", "--state-dir", str(state), *flags, str(inc))
        assert r.returncode == 2, (flags, r.stderr)
        cli_msg = r.stderr.strip().splitlines()[-1]
        assert cli_msg.startswith(flags[0] + ": "), r.stderr
        expected = _config_message(tmp_path, toml).strip().splitlines()[-1].split(": ", 2)[-1]
        assert cli_msg.endswith(expected), (cli_msg, expected)
        assert "Traceback" not in r.stderr
    assert not (state / "obtui.db").exists()  # refused before anything ran
    # A duration string is accepted, as in the config.
    ok = obtui("--check-config", "--poll-seconds", "2s", "--concurrency", "3", str(inc))
    assert ok.returncode == 0, ok.stderr
    assert "2 processes write notes in a burst" in ok.stdout, ok.stdout
    one = obtui("--check-config", "--concurrency", "1", str(inc))
    assert "1 processes write notes" not in one.stdout and "1 process writes notes" in one.stdout


def test_13_4_nested_buckets_on_the_command_line_are_refused(tmp_path, buckets):
    inc, _, state = buckets
    (inc / "sub").mkdir()
    (inc / "sub" / "a.txt").write_text("x\n")
    r = obtui("--once", "--state-dir", str(state), str(inc), str(inc / "sub"))
    assert r.returncode == 2, r.stderr
    assert f"{inc / 'sub'} is inside the folder given as DIR ({inc}), which is recursive" in r.stderr
    assert not (state / "obtui.db").exists()
    # The same in the config names the entry; a CLI folder inside a config bucket names that entry.
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[[buckets]]\npath = "{inc}"\n')
    r = obtui("--once", "--config", str(cfg), "--state-dir", str(state), str(inc / "sub"))
    assert r.returncode == 2 and f"is inside buckets[1] ({inc}), which is recursive" in r.stderr, r.stderr
    msg = _config_message(tmp_path, f'[[buckets]]\npath = "{inc}"\n[[buckets]]\npath = "{inc / "sub"}"\n')
    assert f"is inside buckets[1] ({inc}), which is recursive, so its files would belong to two" in msg


def test_13_13_unterminated_string_in_the_users_words(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[runner]\nconcurrency = "2\nrescan_seconds = 60\n')
    r = obtui("--check-config", "--config", str(cfg))
    assert r.returncode == 2
    assert f"{cfg}:2: string not closed on line 2" in r.stderr, r.stderr
    assert "Control characters" not in r.stderr
    cfg.write_text('[[rules]]\nname = "n"\npatterns = ["*"]\ngrep = """TODO\n')
    r = obtui("--check-config", "--config", str(cfg))
    assert r.returncode == 2 and "string not closed on line 4" in r.stderr, r.stderr
    # A quote inside a comment or a closed string is not an open string.
    cfg.write_text('# it"s fine\n[runner]\nignore = ["a\\"b"]\nconcurrency = [\n')
    r = obtui("--check-config", "--config", str(cfg))
    assert r.returncode == 2 and "string not closed" not in r.stderr, r.stderr


def test_13_13_unknown_theme_fails_check_config(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[ui]\ntheme = "nope"\n')
    r = obtui("--check-config", "--config", str(cfg))
    assert r.returncode == 2 and f'{cfg}:2: ui.theme: unknown theme "nope"' in r.stderr, r.stderr
    assert "obtui-dark" in r.stderr and "textual-dark" in r.stderr
    for name in ("obtui-light", "nord", "textual-light"):
        cfg.write_text(f'[ui]\ntheme = "{name}"\n')
        r = obtui("--check-config", "--config", str(cfg))
        assert r.returncode == 0 and f"UI theme: {name}" in r.stdout, r.stderr
    # A theme file of the user's own counts (by the name it gives itself).
    data = tmp_path / "xdg-data"
    (data / "obtui" / "themes").mkdir(parents=True)
    (data / "obtui" / "themes" / "mine.toml").write_text('name = "my-theme"\nprimary = "#112233"\n')
    cfg.write_text('[ui]\ntheme = "my-theme"\n')
    r = obtui("--check-config", "--config", str(cfg), env={"XDG_DATA_HOME": str(data)})
    assert r.returncode == 0, r.stderr


def test_13_13_textual_builtin_theme_list_is_current():
    from textual.theme import BUILTIN_THEMES

    from obtui.config.themes import TEXTUAL_BUILTIN_THEMES

    assert set(TEXTUAL_BUILTIN_THEMES) == set(BUILTIN_THEMES)


def test_13_13_init_config_hint_names_the_config_file(tmp_path):
    cfg = tmp_path / "my dir" / "c.toml"
    r = obtui("--init-config", "--config", str(cfg))
    assert r.returncode == 0 and cfg.exists()
    assert f"obtui --check-config --config '{cfg}'" in r.stdout, r.stdout
    r = obtui("--init-config", env={"OBTUI_CONFIG": str(tmp_path / "d.toml")})
    assert r.returncode == 0 and r.stdout.rstrip().endswith("run: obtui --check-config"), r.stdout


def test_13_13_note_says_1_matching_line(buckets):
    inc, _, state = buckets
    (inc / "one.txt").write_text("TODO once\nplain\n")
    (inc / "two.txt").write_text("TODO a\nFIXME b\n")
    r = obtui("--once", "--state-dir", str(state), str(inc))
    assert r.returncode == 0, r.stderr
    assert "1 matching line for `TODO|FIXME`:" in (inc / "one.obs.md").read_text()
    assert "2 matching lines for `TODO|FIXME`:" in (inc / "two.obs.md").read_text()


def test_13_13_deleted_config_is_recorded_at_once_and_rules_stay(tmp_path, buckets):
    inc, _, state = buckets
    cfg = tmp_path / "c.toml"
    text = (
        f'[[buckets]]\npath = "{inc}"\n[[rules]]\nname = "mine"\npatterns = ["*.txt"]\noutput_dir = "notes"\n'
    )
    cfg.write_text(text)
    proc = start_headless(state, config=cfg)
    try:
        wait_for(lambda: runner_started(state, proc), what="runner start")
        wait_for(lambda: (state / "status.json").exists(), what="status.json")
        cfg.unlink()

        def recorded() -> bool:
            out = obtui("--errors", "--category", "Configuration", "--state-dir", str(state)).stdout
            return "config file was deleted" in out and str(cfg) in out

        wait_for(recorded, timeout=10, what="a Configuration error for the deleted file")
        (inc / "a.txt").write_text("x\n")
        wait_for(lambda: (inc / "notes" / "a.obs.md").exists(), what="the running rule still applied")
        cfg.write_text(text.replace('"notes"', '"notes2"'))  # back: applied like any edit
        n = iter(range(10**6))  # new content each time, so a write before the reload is not the last

        def applied() -> bool:
            (inc / "b.txt").write_text(f"y{next(n)}\n")
            return (inc / "notes2" / "b.obs.md").exists()

        wait_for(applied, interval=0.2, what="the restored config applied")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0, headless_stderr(proc)


def test_13_12_errors_text_shows_the_stderr_tail(tmp_path, buckets):
    inc, _, state = buckets
    cfg = tmp_path / "c.toml"
    script = "echo starting >&2; echo 'convert: bad header in input' >&2; exit 3"
    cfg.write_text(
        f'[[buckets]]\npath = "{inc}"\n[[rules]]\nname = "conv"\npatterns = ["*.bin"]\n'
        f'action = "command"\ncommand = ["sh", "-c", {toml_str(script)}, "sh", "{{path}}"]\n'
    )
    (inc / "a.bin").write_bytes(b"data")
    r = obtui("--once", "--config", str(cfg), "--state-dir", str(state))
    assert r.returncode == 1, r.stderr
    out = obtui("--errors", "--state-dir", str(state)).stdout
    assert "stderr:" in out and "convert: bad header in input" in out and "starting" in out, out
    assert "suggestion:" in out


def test_13_12_limit_and_modes_are_checked(buckets):
    _, _, state = buckets
    for limit in ("0", "-3"):
        r = obtui("--errors", "--limit", limit, "--state-dir", str(state))
        assert r.returncode == 2 and "--limit: expected a number of records of at least 1" in r.stderr, (
            r.stderr
        )
    r = obtui("--errors", "--limit", "1", "--state-dir", str(state))
    assert r.returncode == 0, r.stderr
    for modes in (
        ["--report", "--errors"],
        ["--status", "--report"],
        ["--metrics", "--status"],
        ["--once", "--report"],
        ["--check-config", "--headless"],
    ):
        r = obtui(*modes, "--state-dir", str(state))
        assert r.returncode == 2, (modes, r.stdout)
        assert "cannot be combined" in r.stderr and modes[0] in r.stderr and modes[1] in r.stderr, r.stderr
    assert obtui("--headless", "--once", "--check-config", "--state-dir", str(state)).returncode == 2
    r = obtui("--report", "--limit", "5", "--state-dir", str(state))
    assert r.returncode == 2 and "--limit only applies to --errors" in r.stderr, r.stderr
    assert obtui("--headless", "--once", "--state-dir", str(state)).returncode == 2  # no buckets, not a combo


def test_13_11_folder_summary_with_file_patterns_warns(tmp_path, buckets):
    inc, _, state = buckets
    cfg = tmp_path / "c.toml"
    cfg.write_text('[[rules]]\nname = "docs"\npatterns = ["*.txt", "*.md"]\nfolder_summary = true\n')
    r = obtui("--check-config", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert "warning: rules[1] (docs) (line 1): folder_summary = true does nothing here" in r.stderr, r.stderr
    # And a runner says so at start (it still runs).
    (inc / "proj").mkdir()
    (inc / "proj" / "a.txt").write_text("x\n")
    r = obtui("--once", "--config", str(cfg), "--state-dir", str(state), str(inc))
    assert r.returncode == 0 and "folder_summary = true does nothing here" in r.stderr, r.stderr
    assert (inc / "proj" / "a.obs.md").exists() and not (inc / "proj.obs.md").exists()
    # Patterns that match folders: no warning, and the summary is written.
    for patterns in ('["*"]', '["*/", "*.txt"]', '["proj*/"]'):
        cfg.write_text(f'[[rules]]\nname = "docs"\npatterns = {patterns}\nfolder_summary = true\n')
        r = obtui("--check-config", "--config", str(cfg))
        assert r.returncode == 0 and "warning" not in r.stderr, (patterns, r.stderr)
    r = obtui("--once", "--config", str(cfg), "--state-dir", str(tmp_path / "s2"), str(inc))
    assert r.returncode == 0 and (inc / "proj.obs.md").exists(), r.stderr
