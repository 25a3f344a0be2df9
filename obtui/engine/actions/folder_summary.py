"""The folder summary: one `<dirname>.obs.md` for a dropped folder (CONTEXT_TREE style).

A tree of the folder (sorted, capped), file counters, grep matches across the folder (ripgrep,
else grep, else Python) and the tags found in its text files. Hidden entries are left out, and so
is everything obtui never takes as input (`ActionContext.never_input`): the notes and result
files it writes for the folder's own files must not count as the folder's content.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from obtui.config.units import format_size
from obtui.engine.actions.base import ActionContext, ActionResult
from obtui.engine.actions.grep_tools import (
    MAX_TAGS,
    TAG_RE,
    FolderGrep,
    compile_grep,
    grep_folder,
    is_binary,
    open_binary,
)
from obtui.engine.actions.note_render import (
    FOOTER,
    code_block,
    code_span,
    frontmatter,
    iso_utc,
    md_inline,
    merge_tags,
    note_names,
    tag_line,
    visible,
    write_note_file,
)

MAX_TREE = 500  # entries drawn in the tree; the rest are counted in a "… N more" line
TAG_HEAD = 64 << 10  # tags are looked for in the first 64 KiB of each text file
TAG_BUDGET = 32 << 20  # and in at most 32 MiB across the folder
GREP_TIMEOUT = 120.0


@dataclass
class FolderWalk:
    """What a walk of the folder found."""

    tree: list[str] = field(default_factory=list)
    more: int = 0  # entries not drawn
    files: int = 0
    dirs: int = 0
    text: int = 0
    binary: int = 0
    other: int = 0  # symlinks, FIFOs, sockets, devices (never opened)
    total_size: int = 0
    text_files: list[tuple[str, int]] = field(default_factory=list)  # (rel path, size), sorted
    tags: set[str] = field(default_factory=set)
    tag_bytes: int = 0


def _scandir(path: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            return sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError:
        return []


Skip = Callable[[str, bool], bool]  # (path relative to the walked folder, is a folder) -> leave out


def _entries(path: str, base: str, skip: Skip | None) -> list[tuple[os.DirEntry[str], bool]]:
    entries = [
        e for e in _scandir(path) if skip is None or not skip(base + e.name, e.is_dir(follow_symlinks=False))
    ]
    return [(e, i == len(entries) - 1) for i, e in enumerate(entries)]


def walk_folder(root: Path, cap: int = MAX_TREE, skip: Skip | None = None) -> FolderWalk:
    """Walk `root` depth-first in name order (iteratively: deep trees are fine), drawing the tree,
    classifying regular files as text/binary and collecting tags. Symlinks are not followed;
    entries for which `skip` says so are left out (a left-out folder with all it holds)."""
    walk = FolderWalk()
    stack = [(iter(_entries(str(root), "", skip)), "", "")]
    while stack:
        entries, prefix, base = stack[-1]
        item = next(entries, None)
        if item is None:
            stack.pop()
            continue
        entry, last = item
        is_dir = entry.is_dir(follow_symlinks=False)
        if len(walk.tree) < cap:
            walk.tree.append(
                f"{prefix}{'└── ' if last else '├── '}{visible(entry.name)}{'/' if is_dir else ''}"
            )
        else:
            walk.more += 1
        rel = base + entry.name
        if is_dir:
            walk.dirs += 1
            stack.append(
                (
                    iter(_entries(entry.path, rel + "/", skip)),
                    prefix + ("    " if last else "│   "),
                    rel + "/",
                )
            )
        elif entry.is_file(follow_symlinks=False):
            _classify(walk, entry, rel)
        else:
            walk.other += 1
    return walk


def _classify(walk: FolderWalk, entry: os.DirEntry[str], rel: str) -> None:
    try:
        size = entry.stat(follow_symlinks=False).st_size
        with open_binary(Path(entry.path)) as f:
            head = f.read(TAG_HEAD)
    except OSError:
        walk.other += 1
        return
    walk.files += 1
    walk.total_size += size
    if is_binary(head):
        walk.binary += 1
        return
    walk.text += 1
    walk.text_files.append((rel, size))
    if walk.tag_bytes < TAG_BUDGET and len(walk.tags) < MAX_TAGS:
        walk.tag_bytes += len(head)
        walk.tags.update(TAG_RE.findall(head.decode("utf-8", "replace")))


def write_folder_note(ctx: ActionContext) -> ActionResult:
    """Write the summary note of the dropped folder `ctx.facts.path` into `ctx.output_dir`
    (by default next to the folder). Sync; runs in a worker thread."""
    folder = ctx.facts.path
    pattern = compile_grep(ctx.rule.grep)
    never_input = ctx.never_input
    skip = (lambda rel, is_dir: never_input(f"{ctx.rel}/{rel}", is_dir)) if never_input else None
    walk = walk_folder(folder, skip=skip)
    found = FolderGrep(tool="")
    if pattern is not None and ctx.rule.grep:
        timeout = min(ctx.rule.timeout, GREP_TIMEOUT)
        only = {rel for rel, _ in walk.text_files} if skip else None
        found = grep_folder(folder, ctx.rule.grep, pattern, walk.text_files, timeout, only=only)
    source = str(folder)
    text = render_folder_note(ctx, walk, found)
    out = write_note_file(ctx.output_dir, note_names(folder.name, source, stem=folder.name), source, text)
    return ActionResult(
        output_path=out,
        file_type="folder",
        encoding=None,
        grep_matches=found.count,
        files_collected=walk.files,
        bytes_processed=walk.total_size,
        extra={
            "grep_tool": found.tool or None,
            "grep_fallbacks": list(found.fallbacks),
            "files": walk.files,
            "text_files": walk.text,
            "binary_files": walk.binary,
        },
    )


def render_folder_note(ctx: ActionContext, walk: FolderWalk, found: FolderGrep) -> str:
    """The whole summary note text."""
    folder = ctx.facts.path
    tags = merge_tags(ctx.rule.tags, walk.tags)
    fields: dict[str, object] = {
        "source": str(folder),
        "bucket": str(ctx.bucket),
        "rel": ctx.rel,
        "type": "folder",
        "files": walk.files,
        "folders": walk.dirs,
        "total_size": walk.total_size,
        "sha256": ctx.facts.sha256,
        "mtime": iso_utc(ctx.facts.mtime),
        "rule": ctx.rule.name,
        "matched_pattern": ctx.matched_pattern,
        "grep_tool": found.tool or None,
        "grep_matches": found.count,
        "tags": tags,
        "obtui_version": ctx.obtui_version,
        "generated_at": ctx.now_iso or iso_utc(time.time()),
    }
    tree = [f"{visible(folder.name)}/", *walk.tree]
    if walk.more:
        tree.append(f"… {walk.more} more")
    parts = [
        frontmatter(fields),
        f"# {md_inline(folder.name)}/",
        "",
        "## Directory Structure",
        "",
        code_block(tree),
        "",
        "## File Counters",
        "",
        f"- Total files: {walk.files}",
        f"- Text files: {walk.text}",
        f"- Binary files: {walk.binary}",
    ]
    if walk.other:
        parts.append(f"- Other entries (symlinks, pipes, unreadable): {walk.other}")
    parts += [f"- Folders: {walk.dirs}", f"- Total size: {format_size(walk.total_size)}"]
    if ctx.rule.grep:
        parts += [f"- Grep matches: {found.count}", "", "## Matches", ""]
        if found.count:
            parts += [f"Lines matching {code_span(ctx.rule.grep)} (found with {found.tool}):", ""]
            parts.append(code_block(f"{rel}:{number}: {text}" for rel, number, text in found.matches))
            if (more := found.count - len(found.matches)) > 0:
                parts += ["", f"… {more} more"]
        else:
            parts.append(f"No line matches {code_span(ctx.rule.grep)}.")
    parts.append("")
    if tags:
        parts += ["## Tags", "", tag_line(tags), ""]
    parts += [FOOTER, ""]
    return "\n".join(parts)
