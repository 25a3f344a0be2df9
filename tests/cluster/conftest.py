"""Fixtures for the cluster tests: a real redis-server per test (tmp dir, free port)."""

from __future__ import annotations

import os

import pytest

from tests.cluster.redis_server import INSTALL_HINT, RedisServer, redis_server_binary


@pytest.fixture
def redis_server(tmp_path):
    """A fresh redis-server with AOF (`appendfsync always`) in tmp_path/redis; stopped by PID."""
    binary = redis_server_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail(INSTALL_HINT)  # never skip in CI: the cluster guarantees must be tested
        pytest.skip(INSTALL_HINT)
    server = RedisServer(tmp_path / "redis", binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()
