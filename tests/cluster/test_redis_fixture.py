"""The fixture itself: a real server, and kill -9 + restart keeps what was acknowledged (AOF)."""

from __future__ import annotations


def test_restart_from_aof_keeps_acknowledged_writes(redis_server):
    r = redis_server.client()
    r.set("k", "v")
    r.xadd("s", {"a": "1"})
    redis_server.kill9()
    redis_server.start()
    r = redis_server.client()
    assert r.get("k") == "v"
    assert r.xlen("s") == 1
    assert r.config_get("appendfsync")["appendfsync"] == "always"
