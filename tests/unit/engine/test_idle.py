"""An idle engine wakes less often (a snapshot a second, status.json every 10 s), and whatever
happens (a file event, a client's command) puts it back to full pace at once."""

from __future__ import annotations

from pathlib import Path

from obtui.config.model import RuleConfig
from obtui.engine.publish import QUIET_TICKS
from tests.helpers import make_config, running_engine, success_count, wait_for

NOTE = RuleConfig(name="notes", patterns=("*.txt",), action="note")


def test_idle_engine_slows_down_and_a_drop_or_a_command_wakes_it(tmp_path: Path) -> None:
    bucket, state = tmp_path / "in", tmp_path / "state"
    bucket.mkdir()
    with running_engine(make_config([bucket], [NOTE]), state) as engine:
        pub = engine.publisher
        wait_for(lambda: pub.quiet >= QUIET_TICKS, what="the engine to go idle")
        uptime = engine.snapshot().metrics.uptime_s
        wait_for(lambda: engine.snapshot().metrics.uptime_s > uptime, what="an idle snapshot")
        (bucket / "a.txt").write_text("hello\n")
        wait_for(lambda: pub.quiet < QUIET_TICKS, what="the file event to wake the publisher")
        wait_for(lambda: success_count(state) == 1, what="the file recorded")
        wait_for(lambda: engine.snapshot().queue.completed == 1, what="the snapshot to show it")
        wait_for(lambda: pub.quiet >= QUIET_TICKS, what="idle again")
        engine.pause()  # a command from a client (another thread): published while idle too
        wait_for(lambda: engine.snapshot().state == "paused", what="the pause in the snapshot")
