"""Reading text for notes: binary sniffing, decoding with fallback, grep and tag extraction.

One file is scanned in-process (no subprocess: a note must cost milliseconds), the rule's grep
on RE2 (`grep_engine`); a pattern only Python's `re` can run goes to a child process with a time
limit (`scan_file_bounded`). Files larger than `IN_MEMORY_MAX` are streamed line by line so
memory stays flat.

    python -m obtui.engine.actions.grep_tools PATH SIZE PATTERN   (that child: a TextScan as JSON)
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO

from obtui.engine.actions.grep_engine import GREP_SECONDS, Grep, compile_grep

__all__ = ["compile_grep", "Grep", "TextScan", "scan_file", "scan_file_bounded", "grep_folder"]

SNIFF = 8192  # a NUL byte in the first 8 KiB means binary, like git and grep -I
IN_MEMORY_MAX = 4 << 20
MAX_PIECE = 64 << 10  # longest piece of an external grep output line read at once
BLOCK = 1 << 20  # streaming read size
MAX_LISTED = 200  # matches listed in a note; the rest are only counted
MAX_TAGS = 1000  # distinct tags kept per file
LINE_WIDTH = 200

# `#tag` not preceded by a word char, `#`, `/` or `&` (URLs, entities). The lookbehind sits after the
# literal `#` so the regex engine can skip ahead to each `#` (60x faster than leading with it).
TAG_RE = re.compile(r"#(?<![\w#/&]#)([A-Za-z][\w/-]*)")
_HEADING_RE = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*\r?$", re.M)
_NON_SPACE = re.compile(r"\S")

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def open_binary(path: Path) -> BinaryIO:
    """Open for reading without ever blocking on a FIFO swapped in for the file."""
    fd = os.open(path, _OPEN_FLAGS)
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def is_binary(head: bytes) -> bool:
    """True when the first 8 KiB hold a NUL byte."""
    return b"\0" in head[:SNIFF]


def clip(text: str, width: int = LINE_WIDTH) -> str:
    """`text` without a trailing CR, cut to `width` characters with an ellipsis."""
    text = text.rstrip("\r\n")
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass
class TextScan:
    """What a note says about a file's content."""

    binary: bool = False
    encoding: str | None = None
    lines: int = 0
    words: int = 0
    heading: str | None = None  # the first Markdown heading
    first_line: str | None = None  # the first non-empty line
    match_count: int = 0  # matching lines, all of them
    matches: list[tuple[int, str]] = field(default_factory=list)  # (line number, clipped line)
    tags: set[str] = field(default_factory=set)
    last_match: int = 0  # line number last counted (a long line scanned in pieces counts once)
    grep_abandoned: str | None = None  # why the grep was given up (a pattern that ran too long)

    def add_tags(self, found: list[str]) -> None:
        for tag in found:
            if len(self.tags) >= MAX_TAGS:
                return
            self.tags.add(tag)


def scan_file(path: Path, size: int, pattern: Grep | None) -> TextScan:
    """Sniff, decode (UTF-8, else Latin-1) and scan at most `size` bytes of `path`."""
    with open_binary(path) as f:
        head = f.read(min(size, IN_MEMORY_MAX))
        if is_binary(head):
            return TextScan(binary=True)
        if len(head) >= size or len(head) < IN_MEMORY_MAX:
            return scan_bytes(head, pattern)
        for encoding in ("utf-8", "latin-1"):
            f.seek(0)
            try:
                return _scan_stream(f, size, pattern, encoding)
            except UnicodeDecodeError:
                continue
    raise AssertionError("latin-1 decodes anything")  # pragma: no cover


def scan_bytes(data: bytes, pattern: Grep | None) -> TextScan:
    """Scan text held in memory (UTF-8, else Latin-1)."""
    try:
        text, encoding = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = data.decode("latin-1"), "latin-1"
    scan = TextScan(encoding=encoding)
    text = text.removeprefix("\ufeff")
    _scan_lines(scan, text.removesuffix("\n"), False, pattern)
    return scan


def _scan_lines(scan: TextScan, text: str, continuing: bool, pattern: Grep | None) -> None:
    """Add complete lines (`text` holds no final newline) to `scan`. Whole-text operations run in
    C; only grep loops over lines. `continuing`: the first line goes on with line `scan.lines`."""
    lines = text.split("\n")
    first = scan.lines if continuing else scan.lines + 1
    scan.lines = first + len(lines) - 1
    scan.words += len(text.split())
    if len(scan.tags) < MAX_TAGS and "#" in text:
        scan.add_tags(TAG_RE.findall(text))
    if scan.heading is None and "#" in text and (m := _HEADING_RE.search(text)):
        scan.heading = clip(m.group(1).strip()) or None
    if scan.first_line is None and (m := _NON_SPACE.search(text)):
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.start())
        scan.first_line = clip(text[start : end if end >= 0 else len(text)].strip())
    if pattern is None:
        return
    for offset in pattern.matching_lines(text, lines):
        line = lines[offset]
        if first + offset != scan.last_match:
            scan.last_match = first + offset
            scan.match_count += 1
            if len(scan.matches) < MAX_LISTED:
                scan.matches.append((first + offset, clip(line)))


def _scan_stream(f: BinaryIO, size: int, pattern: Grep | None, encoding: str) -> TextScan:
    """Scan in 1 MiB blocks cut at line ends (memory stays flat); raises UnicodeDecodeError on
    the first invalid sequence when `encoding` is UTF-8."""
    decode = codecs.getincrementaldecoder(encoding)("strict").decode
    scan = TextScan(encoding=encoding)
    remaining, carry, continuing, first = size, "", False, True
    while remaining > 0:
        raw = f.read(min(BLOCK, remaining))
        if not raw:
            break
        remaining -= len(raw)
        text = carry + decode(raw, final=remaining <= 0)
        if first:
            text, first = text.removeprefix("\ufeff"), False
        cut = text.rfind("\n")
        if cut >= 0:
            _scan_lines(scan, text[:cut], continuing, pattern)
            carry, continuing = text[cut + 1 :], False
        elif len(text) > BLOCK:  # a very long line: scanned in pieces
            _scan_lines(scan, text, continuing, pattern)
            carry, continuing = "", True
        else:
            carry = text
    carry += decode(b"", final=True)
    if carry:
        _scan_lines(scan, carry, continuing, pattern)
    return scan


def scan_file_bounded(path: Path, size: int, pattern: Grep | None, seconds: float = GREP_SECONDS) -> TextScan:
    """`scan_file`, with a pattern that only Python's backtracking `re` can run scanned in a child
    process killed after `seconds`; then the file is scanned without the grep and
    `grep_abandoned` says why. OSError as `scan_file`."""
    if pattern is None or pattern.engine == "re2":
        return scan_file(path, size, pattern)
    import json
    import subprocess
    import sys

    argv = [sys.executable, "-m", "obtui.engine.actions.grep_tools", str(path), str(size), pattern.source]
    try:
        proc = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=seconds, start_new_session=True
        )
        if proc.returncode == 0:
            out = json.loads(proc.stdout)
            out["tags"] = set(out["tags"])
            out["matches"] = [tuple(m) for m in out["matches"]]
            return TextScan(**out)
        reason = f"the grep process failed (exit {proc.returncode})"
    except subprocess.TimeoutExpired:  # run() has killed it
        reason = (
            f"the pattern ran for more than {seconds:g} s on this file and was stopped: it needs "
            "Python's backtracking regex engine (RE2 cannot run it), and backtracks catastrophically here"
        )
    except (OSError, ValueError, TypeError) as exc:
        reason = f"the grep process could not run: {exc}"
    scan = scan_file(path, size, None)
    scan.grep_abandoned = reason
    return scan


# --- grep across a folder: ripgrep, else grep -P, else Python -------------------------------


@dataclass
class FolderGrep:
    """Matches across a folder, and which tool found them."""

    tool: str = "python"
    fallbacks: list[str] = field(default_factory=list)  # "rg: exit 2: …" for each tool that failed
    count: int = 0
    matches: list[tuple[str, int, str]] = field(default_factory=list)  # (rel path, line, text)


def _tool_argv(tool: str, regex: str) -> list[str]:
    if tool == "rg":
        # --sort path: deterministic order; --no-ignore: a dropped folder's .gitignore is not ours.
        return ["rg", "--no-config", "-nH0", "--no-heading", "--no-ignore", "--no-messages"] + [
            "--color=never",
            "--sort=path",
            "-e",
            regex,
            "--",
            ".",
        ]
    # -P (PCRE) is closest to Python's `re`; `-I` skips binary files, `.?*` skips hidden entries
    # without excluding the "." we search from. -s/--no-messages keep stderr to pattern errors,
    # small enough not to fill the pipe while stdout is read.
    return ["grep", "-rnsIHZP", "--color=never", "--exclude=.*", "--exclude-dir=.?*", "-e", regex, "--", "."]


def _run_tool(
    tool: str, folder: Path, regex: str, timeout: float, only: set[str] | None = None
) -> FolderGrep:
    """Run one external grep; raises RuntimeError (with a reason) when it fails."""
    import heapq
    import subprocess
    import threading

    try:
        proc = subprocess.Popen(
            _tool_argv(tool, regex),
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            # C locale: grep then sniffs binary by NUL bytes only (not by invalid UTF-8), like us.
            env={**os.environ, "LC_ALL": "C"} if tool == "grep" else None,
        )
    except OSError as exc:
        raise RuntimeError(f"{tool}: {exc.strerror or exc}") from exc
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    result = FolderGrep(tool=tool)
    try:
        assert proc.stdout is not None
        result.matches = heapq.nsmallest(MAX_LISTED, _parse_rows(proc.stdout, result, only))
        assert proc.stderr is not None
        err = proc.stderr.read(4096).decode("utf-8", "replace").strip()
        code = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    if code not in (0, 1):
        reason = "killed (timeout)" if code < 0 else f"exit {code}"
        raise RuntimeError(f"{tool}: {reason}: {err.splitlines()[0] if err else 'no message'}")
    return result


def _parse_rows(
    stream: IO[bytes], result: FolderGrep, only: set[str] | None = None
) -> Iterator[tuple[str, int, str]]:
    """`path\0line:text` rows (rg -0 / grep -Z), counted into `result` as they pass (those of
    files in `only`, when given)."""
    while raw := stream.readline(MAX_PIECE):
        name, sep, rest = raw.partition(b"\0")
        number, sep2, text = rest.partition(b":")
        if not sep or not sep2 or not number.isdigit():
            continue  # the tail of an overlong line
        rel = os.fsdecode(name).removeprefix("./")
        if only is not None and rel not in only:
            continue
        result.count += 1
        yield rel, int(number), clip(text.decode("utf-8", "replace"))


def grep_folder(
    folder: Path,
    regex: str,
    pattern: Grep,
    text_files: list[tuple[str, int]],
    timeout: float,
    *,
    only: set[str] | None = None,
) -> FolderGrep:
    """Grep `folder` with ripgrep if on PATH, else GNU grep, else Python over `text_files`
    ((rel path, size) pairs, sorted). A tool that fails is noted in `fallbacks` and the next tried.
    With `only`, matches in files whose relative path is not in it are left out (not counted)."""
    import shutil

    fallbacks: list[str] = []
    for tool in ("rg", "grep"):
        if shutil.which(tool) is None:
            continue
        try:
            found = _run_tool(tool, folder, regex, timeout, only)
        except RuntimeError as exc:
            fallbacks.append(str(exc))
            continue
        found.fallbacks = fallbacks
        return found
    result = FolderGrep(tool="python", fallbacks=fallbacks)
    current: Grep | None = pattern
    for rel, size in text_files:
        try:
            scan = scan_file_bounded(folder / rel, size, current)
        except OSError:
            continue
        if scan.grep_abandoned:  # one stall is enough: the other files are not grepped
            result.fallbacks.append(f"python: {rel}: {scan.grep_abandoned}; later files not grepped")
            current = None
        result.count += scan.match_count
        for number, text in scan.matches:
            if len(result.matches) < MAX_LISTED:
                result.matches.append((rel, number, text))
    return result


def _child_main(argv: list[str]) -> int:
    """The child of `scan_file_bounded`: scan one file, print the TextScan as JSON."""
    import json
    import sys
    from dataclasses import asdict

    path, size, pattern = argv
    scan = scan_file(Path(path), int(size), compile_grep(pattern))
    out = asdict(scan)
    out["tags"] = sorted(scan.tags)
    sys.stdout.write(json.dumps(out))
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(_child_main(sys.argv[1:]))
