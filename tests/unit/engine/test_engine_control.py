"""The engine's thread-safe control surface, called from another thread as hosts do."""

from __future__ import annotations

from tests.helpers import db_rows, make_config, running_engine, wait_for


def test_record_config_error_goes_on_record_and_keeps_the_rules(buckets):
    inc, _, state = buckets
    config = make_config([inc])
    with running_engine(config, state, follow_config=False) as engine:
        engine.record_config_error("rules[0].pattern: expected a string (line 3)", "/etc/obtui.toml")
        rows = wait_for(
            lambda: db_rows(
                state,
                "select component, operation, file_path, message from errors where category='Configuration'",
            ),
            what="the config error on record",
        )
        assert rows == [
            ("Config", "reloadConfig", "/etc/obtui.toml", "rules[0].pattern: expected a string (line 3)")
        ]
        wait_for(
            lambda: (engine.snapshot().last_reload or "").endswith(
                "rejected (rules[0].pattern: expected a string (line 3))"
            )
        )
        assert engine.snapshot().rules == tuple(r.name for r in config.rules), "the rules in force stay"
        wait_for(lambda: engine.snapshot().recent_errors, what="the error in the snapshot")
        assert engine.snapshot().recent_errors[0].message.startswith("rules[0].pattern")
