"""The `note` action: a Markdown note (`<stem>.obs.md`) describing one dropped file."""

from __future__ import annotations

import time

from obtui.config.units import format_size
from obtui.engine.actions.base import ActionContext, ActionResult
from obtui.engine.actions.grep_tools import TextScan, compile_grep, scan_file_bounded
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
    write_note_file,
)
from obtui.engine.errors import EncodingFallbackWarning, GrepAbandonedWarning
from obtui.engine.files.facts import os_error


def write_note(ctx: ActionContext) -> ActionResult:
    """Write the note for `ctx.facts` into `ctx.output_dir` (sync; runs in a worker thread).

    Text files get a summary, grep matches (`rule.grep`) and tags; binary files (a NUL byte in
    the first 8 KiB) a facts-only note. Text that is not UTF-8 is shown as Latin-1 and an
    EncodingFallbackWarning is returned in `warnings`. The note goes to `<stem>.obs.md`, or to
    `<name>.obs.md` if the first belongs to another source, so a re-run overwrites its own note.
    """
    facts = ctx.facts
    pattern = compile_grep(ctx.rule.grep)
    try:
        scan = scan_file_bounded(facts.real_path, facts.size, pattern)
    except OSError as exc:
        raise os_error(exc, facts.path, "read") from exc
    warnings: list[Exception] = []
    if scan.encoding == "latin-1":
        warnings.append(
            EncodingFallbackWarning(
                f"{facts.path} is not valid UTF-8; its note shows it decoded as Latin-1",
                code="latin-1",
                context={"path": str(facts.path)},
            )
        )
    if scan.grep_abandoned:
        warnings.append(
            GrepAbandonedWarning(
                f"grep {ctx.rule.grep!r} abandoned on {facts.path}: {scan.grep_abandoned}",
                code="grep-timeout",
                context={"path": str(facts.path), "grep": ctx.rule.grep},
            )
        )
    source = str(facts.path)
    text = render_note(ctx, scan)
    out = write_note_file(ctx.output_dir, note_names(facts.path.name, source), source, text)
    return ActionResult(
        output_path=out,
        file_type="binary" if scan.binary else "text",
        encoding=scan.encoding,
        grep_matches=scan.match_count,
        bytes_processed=facts.size,
        extra={"grep_tool": "python" if pattern is None else pattern.engine},
        warnings=warnings,
    )


def render_note(ctx: ActionContext, scan: TextScan) -> str:
    """The whole note text for one file."""
    facts = ctx.facts
    tags = merge_tags(ctx.rule.tags, scan.tags)
    fields: dict[str, object] = {
        "source": str(facts.path),
        "bucket": str(ctx.bucket),
        "rel": ctx.rel,
        "size": facts.size,
        "sha256": facts.sha256,
        "mtime": iso_utc(facts.mtime),
        "encoding": scan.encoding,
        "type": "binary" if scan.binary else "text",
        "rule": ctx.rule.name,
        "matched_pattern": ctx.matched_pattern,
        "grep_matches": scan.match_count,
        "tags": tags,
        "obtui_version": ctx.obtui_version,
        "generated_at": ctx.now_iso or iso_utc(time.time()),
    }
    parts = [frontmatter(fields), f"# {md_inline(facts.path.name)}", ""]
    if scan.binary:
        parts += [f"Binary file, {format_size(facts.size)} ({facts.size} bytes): no text summary.", ""]
    else:
        parts += _summary(facts.size, scan) + _matches(ctx.rule.grep, scan)
    if tags:
        parts += ["## Tags", "", tag_line(tags), ""]
    parts += [FOOTER, ""]
    return "\n".join(parts)


def _summary(size: int, scan: TextScan) -> list[str]:
    out = [
        "## Summary",
        "",
        f"- Size: {format_size(size)} ({size} bytes), {scan.encoding}",
        f"- Lines: {scan.lines}",
        f"- Words: {scan.words}",
    ]
    if scan.heading:
        out.append(f"- First heading: {code_span(scan.heading)}")
    elif scan.first_line:
        out.append(f"- First line: {code_span(scan.first_line)}")
    return [*out, ""]


def _matches(grep: str | None, scan: TextScan) -> list[str]:
    out = ["## Matches", ""]
    if not grep:
        return [*out, "No grep pattern for this rule.", ""]
    if scan.grep_abandoned:
        return [*out, f"Grep {code_span(grep)} abandoned: {md_inline(scan.grep_abandoned)}.", ""]
    if not scan.match_count:
        return [*out, f"No line matches {code_span(grep)}.", ""]
    lines = "matching line" if scan.match_count == 1 else "matching lines"
    out += [f"{scan.match_count} {lines} for {code_span(grep)}:", ""]
    out.append(code_block(f"{number}: {text}" for number, text in scan.matches))
    if (more := scan.match_count - len(scan.matches)) > 0:
        out += ["", f"… {more} more"]
    return [*out, ""]
