"""Redis key names (one place, so the CLI and every host agree).

`{b}` is the bucket id as a hash tag, so each bucket's keys share one Redis Cluster slot later.
"""

from __future__ import annotations

PREFIX = "obtui"
GROUP = "obtui"


def jobs(bucket: str) -> str:
    """STREAM of files to process (bucket, rel, sha, size, by); consumer group GROUP."""
    return f"{PREFIX}:jobs:{{{bucket}}}"


def files(bucket: str) -> str:
    """HASH `rel\\0sha256` -> JSON {state: queued|ok|error|dead, host, attempt, ...}: the dedup
    marker and the one recorded outcome per file version."""
    return f"{PREFIX}:files:{{{bucket}}}"


def dlq(bucket: str) -> str:
    """STREAM of dead-lettered files."""
    return f"{PREFIX}:dlq:{{{bucket}}}"


def seen(bucket: str) -> str:
    """HASH `rel\0size\0mtime_ns` -> sha256 of every version ever enqueued: lets a host's
    re-scan skip hashing files another host already queued (an efficiency cache only)."""
    return f"{PREFIX}:seen:{{{bucket}}}"


def stat_field(rel: str, size: int, mtime_ns: int) -> str:
    return f"{rel}\0{size}\0{mtime_ns}"


OUTCOMES = f"{PREFIX}:outcomes"  # STREAM (capped): the live feed of outcomes
STATS = f"{PREFIX}:stats"  # HASH of counters: enqueued, ok, error, dead, reclaimed, lease_lost...
BUCKETS = f"{PREFIX}:buckets"  # SET of bucket ids ever enqueued to
HOSTS = f"{PREFIX}:hosts"  # HASH host name -> last heartbeat JSON


def alive(host: str) -> str:
    """STRING with a PX expiry, renewed by the host's heartbeat: present while it lives."""
    return f"{PREFIX}:alive:{host}"


def field(rel: str, sha256: str) -> str:
    """The field of one file version in `files(bucket)`."""
    return f"{rel}\0{sha256}"


def job_key(bucket: str, rel: str, sha256: str) -> str:
    """The cluster-wide name of one file version (OBTUI_JOB_KEY)."""
    return f"{bucket}/{rel}@{sha256}"
