"""Small, pure formatting helpers shared by the panes and screens (no Textual imports).
Sizes and durations come from `obtui.config.units`, like everywhere else."""

from __future__ import annotations

import re
from pathlib import PurePath

_ERR_ID = re.compile(r"^ERR-\d{4}-\d{2}-\d{2}-(\d{6}-\d+)$")


def count(n: int) -> str:
    """`1234` -> `'1,234'`."""
    return f"{n:,}"


def pct(value: float | None) -> str:
    """`97.39` -> `'97.4%'`; None (no rate yet) -> `'–'`."""
    return "–" if value is None else f"{value:.1f}%"


def rate(per_second: float) -> str:
    """`1.291` -> `'1.29/s'`."""
    return f"{per_second:.2f}/s"


def trim_left(text: str, width: int) -> str:
    """Keep the end of `text` (the file name matters most): `'…/deep/report.txt'`."""
    if width <= 0:
        return ""
    return text if len(text) <= width else "…" + text[len(text) - width + 1 :]


def trim_right(text: str, width: int) -> str:
    """Keep the start of `text`: `'Permission den…'`."""
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"


def one_line(text: str) -> str:
    """The first line of a message, for table cells."""
    return text.strip().splitlines()[0] if text.strip() else ""


def short_error_id(error_id: str) -> str:
    """`'ERR-2026-02-18-042345-001'` -> `'042345-001'`; other shapes are kept whole."""
    m = _ERR_ID.match(error_id)
    return m.group(1) if m else error_id


def iso_time(timestamp: str) -> str:
    """The `HH:MM:SS` of an ISO 8601 timestamp, as written (no time-zone conversion)."""
    if "T" in timestamp:
        return timestamp.split("T", 1)[1][:8]
    return timestamp[:8]


def iso_short(timestamp: str) -> str:
    """`'2026-02-18T04:23:45.123Z'` -> `'2026-02-18 04:23:45'`."""
    return timestamp.replace("T", " ")[:19]


def base_name(path: str | None) -> str:
    """The last component of a path, or `''`."""
    return PurePath(path).name if path else ""


def unique_suffixes(paths: tuple[str, ...]) -> dict[str, str]:
    """Each path as its shortest trailing part that no other path ends with:
    `/a/incoming`, `/b/incoming`, `/srv/uploads` -> `a/incoming`, `b/incoming`, `uploads`."""
    parts = {p: PurePath(p).parts for p in paths}
    out: dict[str, str] = {}
    for p, mine in parts.items():
        for k in range(1, len(mine) + 1):
            tail = mine[-k:]
            if not any(q != p and theirs[-k:] == tail for q, theirs in parts.items()):
                out[p] = str(PurePath(*tail))
                break
        else:
            out[p] = p
    return out


def display_dir(directory: str, buckets: tuple[str, ...], labels: dict[str, str] | None = None) -> str:
    """A directory shown from its bucket's label down: `/srv/incoming/a` -> `'incoming/a'`, or
    `'srv/incoming/a'` when another bucket is also named `incoming` (see `unique_suffixes`;
    pass `labels` to reuse them across calls)."""
    d = PurePath(directory)
    labels = labels if labels is not None else unique_suffixes(buckets)
    for b in sorted(buckets, key=len, reverse=True):
        root = PurePath(b)
        if d == root or root in d.parents:
            label = labels.get(b, root.name)
            return str(PurePath(label) / d.relative_to(root)) if d != root else label
    return labels.get(directory, directory)
