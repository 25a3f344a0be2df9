import os

import pytest


@pytest.fixture(autouse=True)
def _isolate(tmp_path, monkeypatch):
    """No test may touch the developer's config or state."""
    monkeypatch.setenv("OBTUI_CONFIG", str(tmp_path / "no-such-config.toml"))
    monkeypatch.setenv("OBTUI_STATE_DIR", str(tmp_path / "default-state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    yield


@pytest.fixture
def bucket(tmp_path):
    """One empty bucket folder, `tmp_path / "bucket"`."""
    path = tmp_path / "bucket"
    path.mkdir()
    return path


@pytest.fixture
def buckets(tmp_path):
    """Two empty bucket folders and a state dir."""
    a, b, s = tmp_path / "incoming", tmp_path / "uploads", tmp_path / "state"
    a.mkdir()
    b.mkdir()
    return a, b, s


def pytest_report_header(config):
    return f"obtui tests, pid {os.getpid()}"
