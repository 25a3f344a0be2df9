"""Sizes and durations as written in the config, and as shown to people everywhere."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from obtui.config.units import (
    format_clock,
    format_duration,
    format_size,
    format_span,
    parse_duration,
    parse_size,
    spell_duration,
    spell_size,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512 MB", 512_000_000),
        ("512mb", 512_000_000),
        ("1.5 GiB", 1_610_612_736),
        ("1.5gib", 1_610_612_736),
        ("10k", 10_000),
        ("10K", 10_000),
        ("10 KiB", 10_240),
        ("2 MiB", 2 * 1024**2),
        ("1 TB", 10**12),
        ("300", 300),
        ("300 B", 300),
        ("300 bytes", 300),
        ("1_000_000", 1_000_000),
        (" 7 GB ", 7_000_000_000),
        (4096, 4096),
        (0, 0),
        (1e9, 1_000_000_000),
    ],
)
def test_parse_size(text: object, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    "bad", ["", "MB", "12 XB", "-5 MB", "1..5 MB", "5 M B", "1e9", -1, 1.5, True, None, [1], float("inf")]
)
def test_parse_size_rejects_with_expectation(bad: object) -> None:
    with pytest.raises(ValueError, match=r'expected a size like "512 MB"'):
        parse_size(bad)


def test_parse_size_names_the_unknown_unit() -> None:
    with pytest.raises(ValueError, match="unknown unit 'XB'"):
        parse_size("12 XB")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1h", 3600.0),
        ("90s", 90.0),
        ("500ms", 0.5),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("2d", 172_800.0),
        ("1w", 604_800.0),
        ("1.5h", 5400.0),
        ("5 minutes", 300.0),
        ("2 hours 5 sec", 7205.0),
        ("1H", 3600.0),
        ("30", 30.0),
        ("0", 0.0),
        (30, 30.0),
        (2.5, 2.5),
        (0, 0.0),
    ],
)
def test_parse_duration(text: object, expected: float) -> None:
    assert parse_duration(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "bad", ["", "h", "1x", "1h30", "5 minutess", "-1s", "1h-5m", -3, float("nan"), float("inf"), True, None]
)
def test_parse_duration_rejects_with_expectation(bad: object) -> None:
    with pytest.raises(ValueError, match=r'expected a duration like "90s"'):
        parse_duration(bad)


def test_parse_duration_explains_a_trailing_bare_number() -> None:
    with pytest.raises(ValueError, match="a number without a unit"):
        parse_duration("1h30")


@pytest.mark.parametrize("n", [0, 1, 300, 1000, 1024, 512_000_000, 1_610_612_736, 10**12])
def test_spell_size_round_trips_exact_values(n: int) -> None:
    assert parse_size(spell_size(n)) == n


def test_spell_size_prefers_the_short_form() -> None:
    assert spell_size(512_000_000) == "512 MB"
    assert spell_size(1_610_612_736) == "1.5 GiB"
    assert spell_size(1_234_567) == "1.2 MB"


@given(st.floats(min_value=0, max_value=10**8, allow_nan=False))
def test_spell_duration_round_trips(seconds: float) -> None:
    back = parse_duration(spell_duration(seconds))
    assert math.isclose(back, seconds, rel_tol=1e-3, abs_tol=1e-3)


@given(st.text(max_size=30))
def test_parsers_only_raise_value_error(text: str) -> None:
    for parse in (parse_size, parse_duration):
        try:
            parse(text)
        except ValueError:
            pass


def test_measured_sizes_and_durations_are_shown_one_way() -> None:
    assert format_size(1_234_567) == "1.2 MB" and format_size(1536) == "1.5 kB"
    assert format_size(300) == "300 Bytes"
    assert format_duration(0.045) == "45 ms" and format_duration(1.2) == "1.20 s"
    assert format_duration(125) == "2m05s"
    assert [format_span(s) for s in (5, 75, 3725, 90_000)] == ["5s", "1m15s", "1h02m", "1d01h"]
    assert format_clock(932) == "00:15:32" and format_clock(90_061) == "1d 01:01:01"


def test_a_config_size_without_an_exact_short_form_is_shown_as_measured() -> None:
    assert spell_size(1_234_567) == format_size(1_234_567) == "1.2 MB"
