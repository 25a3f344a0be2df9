"""Where each key and array item of a TOML document sits, so errors can name a line.

tomlkit's parsed items carry no positions, so we parse the (already valid) text a second time with
tree-sitter-toml, which ships with `textual[syntax]`. Without it, a line scanner finds table
headers and simple `key = ` lines, which is enough for most messages.

Paths are tuples of keys and 0-based array indexes, exactly as in the parsed data:
`("rules", 1, "patterns", 0)`. Positions are 1-based `(line, col)`, col counted in characters.
"""

from __future__ import annotations

import json
import re
from typing import Any

Path_ = tuple[str | int, ...]
Positions = dict[Path_, tuple[int, int]]


def key_positions(text: str) -> Positions:
    """Map every table, key and array item path in `text` to its (line, col), both 1-based."""
    try:
        return _tree_sitter_positions(text)
    except ImportError:
        return _scan_positions(text)


class _Tables:
    """Resolves header paths through arrays of tables (`[[rules]]` gets an index per entry)."""

    def __init__(self) -> None:
        self.current: dict[Path_, int] = {}

    def resolve(self, parts: list[str]) -> Path_:
        out: list[str | int] = []
        for part in parts:
            out.append(part)
            idx = self.current.get(tuple(out))
            if idx is not None:
                out.append(idx)
        return tuple(out)

    def new_entry(self, parts: list[str]) -> tuple[Path_, Path_]:
        base = self.resolve(parts[:-1]) + (parts[-1],)
        idx = self.current.get(base, -1) + 1
        self.current[base] = idx
        return base, base + (idx,)


def _tree_sitter_positions(text: str) -> Positions:
    import tree_sitter_toml
    from tree_sitter import Language, Parser

    src = text.encode("utf-8", "surrogatepass")
    lines = src.split(b"\n")
    root = Parser(Language(tree_sitter_toml.language())).parse(src).root_node
    out: Positions = {}

    def pos(node: Any) -> tuple[int, int]:
        row, col = node.start_point
        line = lines[row] if row < len(lines) else b""
        return row + 1, len(line[:col].decode("utf-8", "replace")) + 1

    def parts(node: Any) -> list[str]:
        if node.type == "dotted_key":
            return [p for c in node.named_children for p in parts(c)]
        raw = src[node.start_byte : node.end_byte].decode("utf-8", "replace")
        if node.type == "quoted_key":
            if raw.startswith('"'):
                try:
                    return [str(json.loads(raw))]
                except ValueError:
                    pass
            return [raw[1:-1]]
        return [raw]

    def value(node: Any, path: Path_) -> None:
        if node.type == "array":
            items = [c for c in node.named_children if c.type != "comment"]
            for i, item in enumerate(items):
                out.setdefault(path + (i,), pos(item))
                value(item, path + (i,))
        elif node.type == "inline_table":
            pairs(node, path)

    def pairs(node: Any, prefix: Path_) -> None:
        for ch in node.named_children:
            if ch.type != "pair" or not ch.named_children:
                continue
            key = parts(ch.named_children[0])
            at = pos(ch)
            for n in range(1, len(key) + 1):
                out.setdefault(prefix + tuple(key[:n]), at)
            if len(ch.named_children) > 1:
                value(ch.named_children[-1], prefix + tuple(key))

    tables = _Tables()
    pairs(root, ())
    for t in root.named_children:
        if t.type not in ("table", "table_array_element") or not t.named_children:
            continue
        head = parts(t.named_children[0])
        for n in range(1, len(head)):  # [a.b] also locates a table `a` that has no header of its own
            out.setdefault(tables.resolve(head[:n]), pos(t))
        if t.type == "table_array_element":
            base, path = tables.new_entry(head)
            out.setdefault(base, pos(t))
        else:
            path = tables.resolve(head)
        out.setdefault(path, pos(t))
        pairs(t, path)
    return out


_AOT_RE = re.compile(r"^\s*\[\[\s*([^\]]+?)\s*\]\]")
_TABLE_RE = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]")
_KEY_RE = re.compile(r"""^\s*([A-Za-z0-9_-]+|"[^"]*"|'[^']*')\s*=""")


def _split_header(h: str) -> list[str]:
    return [p.strip().strip("\"'") for p in h.split(".")]


def _scan_positions(text: str) -> Positions:
    """Fallback without tree-sitter: headers and top-level `key =` lines only."""
    out: Positions = {}
    tables = _Tables()
    current: Path_ = ()
    for n, line in enumerate(text.splitlines(), start=1):
        if m := _AOT_RE.match(line):
            base, current = tables.new_entry(_split_header(m.group(1)))
            out.setdefault(base, (n, 1))
            out.setdefault(current, (n, 1))
        elif m := _TABLE_RE.match(line):
            current = tables.resolve(_split_header(m.group(1)))
            out.setdefault(current, (n, 1))
        elif m := _KEY_RE.match(line):
            out.setdefault(current + (m.group(1).strip("\"'"),), (n, m.start(1) + 1))
    return out
