"""Issue 13 (the first hour), command-line points, on the real binary with real folders."""

from __future__ import annotations

import os
import signal

from tests.helpers import headless_stderr, obtui, runner_started, start_headless, wait_for


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
