"""Plain-text formatting shared by the report commands (`cli.reports`, `cli.status`): aligned
label/value rows, counts, percentages, durations, times. No Textual, no Rich."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import humanize

from obtui.config.units import format_clock, format_duration

RULE = "=" * 80


def num(v: float) -> str:
    """1234 -> "1,234"."""
    return humanize.intcomma(int(v))


def pct(part: float, whole: float) -> str:
    """A percentage with one decimal ("–" of nothing: no rate before there is one)."""
    return f"{100.0 * part / whole:.1f}%" if whole else "–"


def ms(v: float) -> str:
    """A duration in milliseconds, shown as everywhere (`obtui.config.units.format_duration`)."""
    return format_duration(v / 1000)


def when(iso: str | None) -> str:
    """An ISO time as "YYYY-MM-DD HH:MM:SS UTC (5 minutes ago)"."""
    if not iso:
        return "-"
    try:
        dt = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    ago = humanize.naturaltime(datetime.now(UTC) - dt) if dt.tzinfo else ""
    return f"{dt.strftime('%Y-%m-%d %H:%M:%S')} UTC" + (f" ({ago})" if ago else "")


def uptime(seconds: float) -> str:
    """ "00:15:32 (932 seconds)", with days in front past a day."""
    return f"{format_clock(seconds)} ({num(max(0, int(seconds)))} seconds)"


def write_rows(out: TextIO, rows: list[tuple[str, str]], indent: str = "  ") -> None:
    """`label: value` lines with the values aligned; an empty label continues the line above."""
    width = max((len(k) for k, _ in rows), default=0) + 1
    for k, v in rows:
        out.write(f"{indent}{k + ':' if k else '':<{width}} {v}\n")


def since_words(since: str | None) -> str:
    """ "since <time>" or "all time", for titles."""
    return f"since {when(since).split(' (')[0]}" if since else "all time"


class SafeText:
    """Writes to `out`, showing the bytes of a path that is not valid UTF-8 as \\xNN escapes
    instead of failing on them."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, s: str) -> int:
        try:
            s.encode()
        except UnicodeEncodeError:
            s = s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        return self.out.write(s)


def safe_out(out: TextIO | None) -> TextIO:
    """`out` (default: the current sys.stdout) wrapped in `SafeText`."""
    return SafeText(out or sys.stdout)  # type: ignore[return-value]


def dump_json(out: TextIO, data: Any) -> None:
    """Indented JSON and a newline."""
    try:
        text = json.dumps(data, indent=2, ensure_ascii=False)
        text.encode()
    except UnicodeEncodeError:  # undecodable path bytes: \udcNN escapes keep them exact
        text = json.dumps(data, indent=2)
    out.write(text + "\n")


def category_rows(out: TextIO, counts: dict[str, int]) -> None:
    """Counts by category with their share of the total, aligned."""
    total = sum(counts.values())
    width = max(len(num(v)) for v in counts.values())
    write_rows(out, [(c, f"{num(v):>{width}} ({pct(v, total)})") for c, v in counts.items()])
