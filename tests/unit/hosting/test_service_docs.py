"""The systemd unit and the cron line shipped in docs/ say what the README promises, and the
unit passes `systemd-analyze verify` with the real obtui binary in its ExecStart."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from obtui.config.model import RunnerConfig

DOCS = Path(__file__).resolve().parents[3] / "docs"


def _unit() -> dict[str, str]:
    text = (DOCS / "obtui.service").read_text().replace("\\\n", " ")
    pairs = (ln.split("=", 1) for ln in text.splitlines() if "=" in ln and not ln.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def test_unit_is_notify_with_watchdog_restart_and_sandbox() -> None:
    u = _unit()
    assert u["Type"] == "notify" and u["NotifyAccess"] == "main"
    assert re.fullmatch(r"\d+s", u["WatchdogSec"]) and u["Restart"] == "on-failure"
    assert u["ProtectSystem"] == "strict" and u["StateDirectory"] == "obtui"
    assert "--headless" in u["ExecStart"] and "--state-dir /var/lib/obtui" in u["ExecStart"]
    buckets = [a for a in u["ExecStart"].split() if a.startswith("/srv/")]
    assert buckets and set(buckets) <= set(u["ReadWritePaths"].split())
    # Only obtui gets SIGTERM, and the stop timeout leaves it the whole grace period.
    assert u["KillMode"] == "mixed"
    assert int(u["TimeoutStopSec"].rstrip("s")) > RunnerConfig().shutdown_grace_seconds + 5


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    binary = Path(sys.executable).with_name("obtui")
    assert binary.exists()
    unit = tmp_path / "obtui.service"
    unit.write_text((DOCS / "obtui.service").read_text().replace("/opt/obtui/bin/obtui", str(binary)))
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr


def test_cron_line_runs_once_headless() -> None:
    lines = [ln for ln in (DOCS / "obtui.cron").read_text().splitlines() if ln and not ln.startswith("#")]
    assert len(lines) == 1
    fields = lines[0].split(None, 5)
    assert len(fields) == 6 and fields[0] == "*/15"
    assert "--headless --once" in fields[5] and "2>&1" in fields[5]
    readme = (DOCS.parent / "README.md").read_text()
    assert lines[0] in readme, "the README shows the same cron line"
