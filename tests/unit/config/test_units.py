"""Sizes and durations as written in the config."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from obtui.config.units import format_duration, format_size, parse_duration, parse_size


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
def test_format_size_round_trips_exact_values(n: int) -> None:
    assert parse_size(format_size(n)) == n


def test_format_size_prefers_the_short_form() -> None:
    assert format_size(512_000_000) == "512 MB"
    assert format_size(1_610_612_736) == "1.5 GiB"
    assert format_size(1_234_567) == "1.2 MB"


@given(st.floats(min_value=0, max_value=10**8, allow_nan=False))
def test_format_duration_round_trips(seconds: float) -> None:
    back = parse_duration(format_duration(seconds))
    assert math.isclose(back, seconds, rel_tol=1e-3, abs_tol=1e-3)


@given(st.text(max_size=30))
def test_parsers_only_raise_value_error(text: str) -> None:
    for parse in (parse_size, parse_duration):
        try:
            parse(text)
        except ValueError:
            pass
