"""The typed wire messages and the complete EngineHost protocol of both hosts."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from obtui.api.control import ReloadDiff
from obtui.api.host import EngineHost
from obtui.api.messages import (
    Apply,
    ConfigRejected,
    Exit,
    Pause,
    Reply,
    Rescan,
    Resume,
    SnapshotMsg,
    Start,
    StartRequest,
    Stop,
)
from obtui.api.snapshot import EngineSnapshot
from obtui.engine.engine import Engine
from obtui.hosting.process import EngineProcess
from obtui.hosting.thread import EngineThread
from tests.helpers import make_config


@pytest.mark.parametrize(
    "message",
    [
        Start(StartRequest(make_config([Path("/srv/in")]), Path("/tmp/state"), (Path("/srv/in"),))),
        Pause(),
        Resume(),
        Rescan(),
        Stop(force=True),
        Apply(7, make_config([])),
        ConfigRejected("rules[1].action: unknown", "/etc/obtui.toml"),
        SnapshotMsg(EngineSnapshot(version=3)),
        Reply(7, diff=ReloadDiff(rules_added=("logs",))),
        Reply(8, error="refused"),
        Exit(2, RuntimeError("boom")),
    ],
    ids=lambda m: type(m).__name__,
)
def test_every_message_survives_the_socket_pickle(message: object) -> None:
    back = pickle.loads(pickle.dumps(message))
    assert type(back) is type(message)
    if isinstance(message, Exit):
        assert back.code == message.code and str(back.error) == str(message.error)
    else:
        assert back == message


def test_replies_are_read_by_field_with_match() -> None:
    match Reply(3, error="the engine refused it"):
        case Reply(request_id, None, error):
            assert (request_id, error) == (3, "the engine refused it")
        case _:
            pytest.fail("a Reply with an error did not match")


def test_both_hosts_implement_the_whole_protocol(tmp_path: Path) -> None:
    config = make_config([tmp_path / "in"])
    process = EngineProcess(config, tmp_path / "state")
    thread = EngineThread(Engine(config, tmp_path / "state2"))
    for host in (process, thread):
        assert isinstance(host, EngineHost)
        assert host.error is None and host.exit_code is None
    assert not process.alive and not thread.alive  # not started
