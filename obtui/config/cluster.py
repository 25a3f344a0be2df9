"""Validation of the `[cluster]` table and of bucket ids (cluster mode)."""

from __future__ import annotations

import re
import socket
from typing import Any

from obtui.config.checks import Checker, Invalid, check_keys, describe, duration, integer, shown
from obtui.config.model import BucketConfig, ClusterConfig

CLUSTER_KEYS = ("redis", "host", "lease", "max_deliveries")
CLUSTER_ALIASES = {"url": "redis", "redis_url": "redis", "name": "host", "lease_seconds": "lease"}
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SCHEMES = ("redis://", "rediss://", "unix://")


def redis_url(v: Any) -> str:
    """A Redis URL: redis://[user:password@]host:port/db, rediss://..., or unix:///path.sock."""
    if not isinstance(v, str) or not v.strip():
        raise Invalid(f'expected a Redis URL such as "redis://127.0.0.1:6379/0", got {describe(v)}')
    url = v.strip()
    if not url.startswith(_SCHEMES):
        raise Invalid(
            f"expected a Redis URL starting with redis://, rediss:// or unix://, got {shown(v)} "
            '(e.g. "redis://127.0.0.1:6379/0")'
        )
    return url


def name(what: str) -> Any:
    def conv(v: Any) -> str:
        if not isinstance(v, str) or not _NAME_RE.fullmatch(v):
            raise Invalid(
                f"expected {what}: 1 to 64 letters, digits, '.', '_' or '-' (starting with a letter or "
                f"digit), got {describe(v) if not isinstance(v, str) else shown(v)}"
            )
        return v

    return conv


bucket_id = name("a bucket id")


def default_host() -> str:
    """This machine's name, cut to a valid host name."""
    raw = socket.gethostname().split(".")[0] or "host"
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", raw)[:64]
    return cleaned if _NAME_RE.fullmatch(cleaned) else "host"


def build_cluster(checker: Checker, data: dict[str, Any]) -> ClusterConfig | None:
    """The `[cluster]` table, or None when absent (single-host mode)."""
    if "cluster" not in data:
        return None
    table = data["cluster"]
    path = ("cluster",)
    if not isinstance(table, dict):
        checker.error(path, f"expected a [cluster] table, got {describe(table)}")
        return None
    check_keys(checker, table, path, CLUSTER_KEYS, "[cluster]", aliases=CLUSTER_ALIASES)
    if "redis" not in table:
        checker.error(path, 'missing key redis: the Redis URL, e.g. redis = "redis://127.0.0.1:6379/0"')
    url = checker.field(table, path, "redis", redis_url, None)
    host = checker.field(table, path, "host", name("a host name"), None) or default_host()
    lease = checker.field(table, path, "lease", duration(1, 86400), 30.0)
    deliveries = checker.field(table, path, "max_deliveries", integer(1, 1000), 5)
    if url is None:
        return None
    return ClusterConfig(url, host, lease, deliveries, line=checker.where(path)[0])


def check_bucket_ids(checker: Checker, buckets: tuple[BucketConfig, ...], index: dict[Any, int]) -> None:
    """In cluster mode every bucket needs a distinct cluster-wide id (explicit or its folder name)."""
    seen: dict[str, BucketConfig] = {}
    for b in buckets:
        i = index[b.path]
        if b.id is None:
            try:
                bucket_id(b.path.name)
            except Invalid:
                checker.error(
                    ("buckets", i),
                    f'the folder name {b.path.name!r} cannot be a bucket id; set id = "..." '
                    "(the bucket's name cluster-wide)",
                )
                continue
        other = seen.get(b.cluster_id)
        if other is not None:
            checker.error(
                ("buckets", i, "id") if b.id else ("buckets", i),
                f"bucket id {b.cluster_id!r} is also used by {other.path}; give each bucket its own "
                'id = "..." (the same id on every host for the same shared folder)',
            )
            continue
        seen[b.cluster_id] = b


def masked_url(url: str) -> str:
    """The URL without its password (for messages and --check-config)."""
    return re.sub(r"//([^@/:]*):[^@/]*@", r"//\1:***@", url)
