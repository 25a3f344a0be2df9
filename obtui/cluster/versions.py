"""The file version a host enqueues: (sha256, size) of a ready file."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from obtui.engine.pipeline.jobs import Job

log = logging.getLogger("obtui.cluster")


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
