"""The producer side of a host: ready files become file versions (sha256, size), enqueued once
cluster-wide; files another host already queued (same name, size, mtime) are not hashed again."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from obtui.cluster import keys
from obtui.cluster.protocol import Version
from obtui.engine.jobs import Job

if TYPE_CHECKING:
    from obtui.cluster.node import ClusterNode

log = logging.getLogger("obtui.cluster")


async def enqueue_loop(node: ClusterNode) -> None:
    """Hash ready files (a batch per thread hop) and enqueue them (concurrently)."""
    while True:
        await node._wake.wait()
        node._wake.clear()
        while node._enqueue:
            batch = list(itertools.islice(node._enqueue.items(), 64))  # not a copy of all
            await _enqueue_batch(node, [j for _, j in batch if node._id_of(j.bucket) is not None])
            for path, job in batch:
                if node._enqueue.get(path) is job:
                    del node._enqueue[path]


async def _enqueue_batch(node: ClusterNode, jobs: list[Job]) -> None:
    stats = await asyncio.to_thread(lambda: [stat_field_of(j) for j in jobs])
    # Only scans look the cache up: a file the watcher just saw complete is (mostly) new
    # content. One look-up per bucket for the batch.
    seen: dict[int, bool] = {}
    asked: dict[str, list[int]] = {}
    for i, (job, stat) in enumerate(zip(jobs, stats, strict=True)):
        if stat is not None and job.reason == "scan":
            asked.setdefault(node._id_of(job.bucket) or "", []).append(i)
    for bucket_id, idx in asked.items():
        fields = [stats[i] or "" for i in idx]
        known = await node._retrying(partial(node.coord.known_stats, bucket_id, fields))
        seen.update(zip(idx, known, strict=True))
    todo = [(j, f) for i, (j, f) in enumerate(zip(jobs, stats, strict=True)) if not seen.get(i)]
    versions = await asyncio.to_thread(file_versions, [j for j, _ in todo], node._runner().max_file_size)
    by_bucket: dict[str, list[Version]] = {}
    for (job, stat), version in zip(todo, versions, strict=True):
        if version is not None:
            sha, size = version
            v = Version(job.rel, sha, size, job.is_dir, stat or "")
            by_bucket.setdefault(node._id_of(job.bucket) or "", []).append(v)
    for bucket_id, vs in by_bucket.items():  # one round trip per bucket for the batch
        await node._retrying(partial(node.coord.enqueue_many, bucket_id, vs))


def file_versions(jobs: list[Job], max_size: int) -> list[tuple[str, int] | None]:
    """(sha256, size) of each ready file, None for one that is gone. A file that cannot be
    hashed here is queued under its stat, so that one host records its error once."""
    from obtui.engine.files.facts import inspect_file

    out: list[tuple[str, int] | None] = []
    for job in jobs:
        try:
            facts = inspect_file(Path(job.path), Path(job.bucket), max_size, allow_dir=job.is_dir)
            out.append((facts.sha256, facts.size))
        except Exception as exc:
            try:
                st = os.lstat(job.path)
            except OSError:
                out.append(None)
                continue
            log.debug("cluster: cannot hash %s: %s", job.path, exc)
            out.append((f"unhashable-{st.st_size}-{st.st_mtime_ns}", st.st_size))
    return out


def stat_field_of(job: Job) -> str | None:
    """The name+size+mtime key of a ready file (None for folders or a file that is gone)."""
    if job.is_dir:
        return None
    try:
        st = os.stat(job.path)
    except OSError:
        return None
    return keys.stat_field(job.rel, st.st_size, st.st_mtime_ns)
