"""Sizes and durations for people: the one place obtui turns bytes and seconds into text.

Two jobs, kept apart:
- Showing a measured size or duration (dashboard, reports, status, notes, error messages):
  `format_size` ("1.2 MB", humanize's decimal units), `format_duration` ("45 ms", "1.20 s",
  "3m05s"), `format_span` (a compact age, "12s", "1h02m") and `format_clock` ("00:15:32").
- Spelling a config value back in the syntax the config accepts (`--check-config`, validation
  messages): `spell_size` ("512 MB", "1.5 GiB", exact) and `spell_duration` ("1h30m", "500ms"),
  the inverses of `parse_size` and `parse_duration`. Both parsers accept plain numbers too
  (bytes, seconds) and raise `ValueError` with a message that says what was expected.

Everything here is importable by every package (the engine, the CLI and the UI alike).
"""

from __future__ import annotations

import math
import re

import humanize

# Decimal units are powers of 1000 (MB, like disk vendors and `ls --si`), binary ones powers of
# 1024 (MiB). "k"/"m"/"g" alone are decimal, matching "kB"/"MB"/"GB".
_SIZE_UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    "byte": 1,
    "bytes": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "ki": 1024,
    "kib": 1024,
    "mi": 1024**2,
    "mib": 1024**2,
    "gi": 1024**3,
    "gib": 1024**3,
    "ti": 1024**4,
    "tib": 1024**4,
}

_DURATION_UNITS: dict[str, float] = {
    "ms": 0.001,
    "msec": 0.001,
    "msecs": 0.001,
    "millisecond": 0.001,
    "milliseconds": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "mins": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hrs": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
    "w": 604800.0,
    "week": 604800.0,
    "weeks": 604800.0,
}

_NUMBER = r"(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)"
_SIZE_RE = re.compile(rf"^\s*({_NUMBER})\s*([a-z]*)\s*$", re.IGNORECASE)
_DURATION_PART_RE = re.compile(rf"\s*({_NUMBER})\s*([a-z]*)\s*", re.IGNORECASE)

SIZE_EXPECTED = 'a size like "512 MB", "1.5 GiB", "10k" or a whole number of bytes'
DURATION_EXPECTED = 'a duration like "90s", "500ms", "5m", "1h30m", "2d" or a number of seconds'


def _show(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    return repr(v)


def _number(text: str) -> float:
    if "__" in text or text.endswith("_") or "_." in text or "._" in text:
        raise ValueError(text)
    return float(text.replace("_", ""))


def parse_size(v: object) -> int:
    """Return a size in bytes from an int (bytes) or a string like "512 MB", "1.5 GiB" or "10k".

    Units are case-insensitive; kB/MB/GB/TB (and k/m/g/t) are decimal, KiB/MiB/GiB/TiB binary.
    """
    if isinstance(v, bool):
        raise ValueError(f"expected {SIZE_EXPECTED}, got {_show(v)}")
    if isinstance(v, int):
        if v < 0:
            raise ValueError(f"expected {SIZE_EXPECTED}, got a negative number {v}")
        return v
    if isinstance(v, float):
        if not math.isfinite(v) or v < 0 or v != int(v):
            raise ValueError(f"expected {SIZE_EXPECTED}, got {_show(v)}")
        return int(v)
    if not isinstance(v, str):
        raise ValueError(f"expected {SIZE_EXPECTED}, got {_show(v)}")
    m = _SIZE_RE.match(v)
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _SIZE_UNITS:
        hint = f" (unknown unit {m.group(2)!r})" if m else ""
        raise ValueError(f"expected {SIZE_EXPECTED}, got {_show(v)}{hint}")
    try:
        amount = _number(m.group(1))
    except ValueError:
        raise ValueError(f"expected {SIZE_EXPECTED}, got {_show(v)}") from None
    total = amount * _SIZE_UNITS[unit]
    if not math.isfinite(total):
        raise ValueError(f"expected {SIZE_EXPECTED}, got {_show(v)} (too large)")
    return int(round(total))


def parse_duration(v: object) -> float:
    """Return seconds from a number (seconds) or a string like "90s", "500ms", "1h30m" or "2d".

    Several parts add up ("1h 30m"); a bare number in a string is seconds ("30" = 30 s).
    """
    if isinstance(v, bool):
        raise ValueError(f"expected {DURATION_EXPECTED}, got {_show(v)}")
    if isinstance(v, int | float):
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"expected {DURATION_EXPECTED}, got {_show(v)}")
        return float(v)
    if not isinstance(v, str):
        raise ValueError(f"expected {DURATION_EXPECTED}, got {_show(v)}")
    text = v.strip()
    if not text:
        raise ValueError(f"expected {DURATION_EXPECTED}, got an empty string")
    total = 0.0
    pos = 0
    parts = 0
    while pos < len(text):
        m = _DURATION_PART_RE.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"expected {DURATION_EXPECTED}, got {_show(v)}")
        unit = m.group(2).lower()
        if unit not in _DURATION_UNITS and not (unit == "" and parts == 0 and m.end() == len(text)):
            what = f"unknown unit {m.group(2)!r}" if unit else "a number without a unit"
            raise ValueError(f"expected {DURATION_EXPECTED}, got {_show(v)} ({what})")
        try:
            amount = _number(m.group(1))
        except ValueError:
            raise ValueError(f"expected {DURATION_EXPECTED}, got {_show(v)}") from None
        total += amount * _DURATION_UNITS.get(unit, 1.0)
        pos = m.end()
        parts += 1
    if not math.isfinite(total):
        raise ValueError(f"expected {DURATION_EXPECTED}, got {_show(v)} (too large)")
    return total


def format_size(n: float) -> str:
    """A measured size for people, in decimal units: `1234567` -> "1.2 MB", `300` -> "300 Bytes"."""
    return humanize.naturalsize(n)


def format_duration(seconds: float) -> str:
    """A measured duration for people: "45 ms" under a second, "1.20 s" under a minute, then
    as `format_span` ("2m05s")."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    return format_span(seconds)


def format_span(seconds: float) -> str:
    """A compact elapsed time (whole seconds): "12s", "3m05s", "1h02m", "2d03h"."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86_400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86_400}d{s % 86_400 // 3600:02d}h"


def format_clock(seconds: float) -> str:
    """An uptime as "HH:MM:SS", with days in front past 24 hours ("2d 03:04:05")."""
    s = max(0, int(seconds))
    days, s = divmod(s, 86_400)
    text = f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{days}d {text}" if days else text


def spell_size(n: int) -> str:
    """A config size in config syntax, exact when a short form exists ("512 MB", "1.5 GiB",
    "300 B"); else as `format_size`."""
    exact = []
    for unit, mult in (*_DECIMAL, *_BINARY):
        if mult <= n < 1000 * mult and (n * 1000) % mult == 0:
            exact.append(f"{n / mult:.3f}".rstrip("0").rstrip(".") + f" {unit}")
    if exact:
        return min(exact, key=len)  # min() keeps the first of equals: decimal units win ties
    if n < 1000:
        return f"{n} B"
    return format_size(n)


_DECIMAL = (("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("kB", 1000))
_BINARY = (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024))


def _decimals(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".")


def spell_duration(seconds: float) -> str:
    """A config duration in the syntax `parse_duration` accepts ("1h30m", "500ms", "0s")."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return _decimals(seconds * 1000) + "ms"
    if seconds != int(seconds) or seconds < 60:
        return _decimals(seconds) + "s"
    rest = int(seconds)
    out = []
    for unit, mult in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= mult:
            out.append(f"{rest // mult}{unit}")
            rest %= mult
    return "".join(out)
