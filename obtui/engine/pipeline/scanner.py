"""Reconciliation scan: find every matching file whose current content is not on record.

Runs in a worker thread, streaming with `os.scandir`, in batches: a batch's manifest entries are
fetched in one query, and a file whose size, mtime and inode equal its manifest entry's (status
done or failed) is skipped without hashing. Everything else is handed to the engine, which
hashes it and decides. Symlinked folders are never followed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from obtui.config.model import Config
from obtui.engine.pipeline.patterns import Matcher
from obtui.engine.seams import OutcomeLedger
from obtui.tracking.records import ManifestEntry, ManifestStatus

log = logging.getLogger("obtui.engine")
BATCH = 500
SETTLED = (ManifestStatus.DONE, ManifestStatus.FAILED)


@dataclass(frozen=True)
class Candidate:
    path: str
    rel: str
    recent: bool  # modified moments ago: let it settle instead of queueing it at once
    is_dir: bool = False


def _walk(
    root: str, recursive: bool, bucket: str, matcher: Matcher
) -> Iterator[tuple[str, str, os.DirEntry[str]]]:
    stack = [("", root)]
    while stack:
        rel_dir, abs_dir = stack.pop()
        try:
            it = os.scandir(abs_dir)
        except (FileNotFoundError, NotADirectoryError):
            if not rel_dir:
                raise
            continue
        except PermissionError:
            continue
        with it:
            subdirs = []
            for entry in it:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if is_dir:
                    if not rel_dir:
                        yield rel, entry.path, entry  # top-level folders: folder summaries
                    if recursive and not matcher.dir_pruned(bucket, rel):
                        subdirs.append((rel, entry.path))
                    continue
                yield rel, entry.path, entry
            stack.extend(reversed(subdirs))


def output_gone(entry: ManifestEntry) -> bool:
    """The output the settling success recorded no longer exists (deleted, or its bucket was
    deleted and created again): the file is to be processed again, manifest match or not."""
    return entry.output_path is not None and not os.path.lexists(entry.output_path)


def settled(entry: ManifestEntry | None) -> bool:
    """Done or failed at this path, with its recorded output (if any) still there."""
    return entry is not None and entry.status in SETTLED and not output_gone(entry)


def unchanged(entry: ManifestEntry | None, st: os.stat_result) -> bool:
    """True when the manifest already settled this exact file (same stat), so no hashing needed."""
    return (
        settled(entry)
        and entry is not None
        and entry.size == st.st_size
        and entry.mtime_ns == st.st_mtime_ns
        and entry.inode == st.st_ino
    )


def scan_bucket(
    bucket: str,
    *,
    recursive: bool,
    matcher: Matcher,
    ledger: OutcomeLedger,
    emit: Callable[[list[Candidate]], None],
    progress: Callable[[int, int], None] | None = None,
    cancelled: threading.Event | None = None,
    recent_seconds: float = 1.0,
) -> tuple[int, int]:
    """Scan one bucket; `emit` receives batches of candidates (it may block for backpressure).

    Returns (files scanned, candidates emitted). Raises FileNotFoundError if the bucket is gone.
    """
    scanned = queued = 0
    batch: list[tuple[str, str, os.stat_result, bool]] = []

    def flush() -> None:
        nonlocal queued
        if not batch:
            return
        entries = ledger.lookup_many([p for p, _, _, _ in batch])
        now = time.time()
        out = []
        for path, rel, st, is_dir in batch:
            entry = entries.get(path)
            if is_dir:
                if not settled(entry):
                    out.append(Candidate(path, rel, now - st.st_mtime < recent_seconds, True))
                continue
            if unchanged(entry, st):
                continue
            out.append(Candidate(path, rel, now - st.st_mtime < recent_seconds))
        batch.clear()
        if out:
            queued += len(out)
            emit(out)

    for rel, path, entry in _walk(bucket, recursive, bucket, matcher):
        if cancelled is not None and cancelled.is_set():
            break
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
            if is_dir:
                if matcher.folder_rule(bucket, rel) is None:
                    continue
            elif matcher.match(bucket, rel) is None:
                continue
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        scanned += 1
        batch.append((path, rel, st, is_dir))
        if len(batch) >= BATCH:
            flush()
            if progress:
                progress(scanned, queued)
    flush()
    if progress:
        progress(scanned, queued)
    return scanned, queued


def sweep_stale_temps(root: str) -> int:
    """Remove the `.obtui-*.tmp` files an atomic write leaves behind when the process is killed
    between writing and renaming. Runs once at start, when no write of ours can be in flight."""
    removed = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if name.startswith(".obtui-") and name.endswith(".tmp"):
                try:
                    os.unlink(os.path.join(dirpath, name))
                    removed += 1
                except OSError:
                    pass
    return removed


def sweep_temps_of(config: Config) -> int:
    """`sweep_stale_temps` over every bucket and every absolute output folder of `config`."""
    roots = {str(b.path) for b in config.buckets}
    roots |= {r.output_dir for r in config.rules if r.output_dir and os.path.isabs(r.output_dir)}
    removed = sum(sweep_stale_temps(r) for r in roots if os.path.isdir(r))
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted run", removed)
    return removed
