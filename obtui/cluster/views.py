"""Read-only cluster views from Redis for the CLI (`--status --cluster`, `--report --cluster`,
`--errors --cluster`, `--dlq`) and `--dlq-retry`. None needs a running local engine."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from obtui.api.snapshot import Figures
from obtui.cluster import keys
from obtui.cluster.protocol import dlq_retry

# The clients here are redis.asyncio.Redis with decode_responses=True (str replies); typed Any
# because redis-py's stubs type every reply as bytes | str.


async def bucket_ids(r: Any) -> list[str]:
    return sorted(await r.smembers(keys.BUCKETS))


async def outcomes(r: Any, since: str | None) -> list[dict[str, Any]]:
    """Every recorded outcome (ok, error, dead) in every bucket, at or after `since` (ISO UTC)."""
    out = []
    for b in await bucket_ids(r):
        async for _, raw in r.hscan_iter(keys.files(b), count=1000):
            try:
                doc = json.loads(raw)
            except ValueError:
                continue
            if doc.get("state") not in ("ok", "error", "dead"):
                continue
            if since and str(doc.get("ts") or "") < since:
                continue
            doc.setdefault("bucket", b)
            out.append(doc)
    return out


def report_doc(docs: list[dict[str, Any]], since: str | None) -> dict[str, Any]:
    """The shape of `obtui --report --json`, over every host, with `totals.dead` (one directory
    per bucket id, since mount paths differ between hosts)."""
    per: dict[str, dict[str, Any]] = {}
    cats: Counter[str] = Counter()
    for d in sorted(docs, key=lambda d: str(d.get("ts") or "")):
        b = per.setdefault(
            d["bucket"], {"total": 0, "ok": 0, "failed": 0, "dead": 0, "dur": 0.0, "bytes": 0, "last": None}
        )
        state = d["state"]
        if state == "dead":
            b["dead"] += 1
            cats[str(d.get("category") or "DeadLetter")] += 1
            continue
        b["total"] += 1
        b["last"] = d
        if state == "ok":
            b["ok"] += 1
            b["dur"] += float(d.get("dur_ms") or 0)
            b["bytes"] += int(d.get("bytes") or 0)
        else:
            b["failed"] += 1
            cats[str(d.get("category") or "Unknown")] += 1
    ok = sum(b["ok"] for b in per.values())
    failed = sum(b["failed"] for b in per.values())
    figures = Figures(ok, failed, sum(cats.values()))  # the one definition, as in `--report --json`
    return {
        "since": since,
        "totals": {**figures.to_json(), "dead": sum(b["dead"] for b in per.values())},
        "directories": [
            {
                "directory": name,
                "total": b["total"],
                "successful": b["ok"],
                "failed": b["failed"],
                "successRate": Figures(b["ok"], b["failed"]).to_json()["successRate"],
                "avgDurationMs": round(b["dur"] / b["ok"], 3) if b["ok"] else 0.0,
                "bytes": b["bytes"],
                "lastFile": f"{name}/{b['last']['rel']}" if b["last"] else None,
                "lastAt": b["last"].get("ts") if b["last"] else None,
                "dead": b["dead"],
            }
            for name, b in sorted(per.items())
        ],
        "errorsByCategory": dict(cats.most_common()),
    }


def error_docs(docs: list[dict[str, Any]], limit: int, category: str | None) -> list[dict[str, Any]]:
    """Failed and dead-lettered files, newest first, in the shape of `--errors --json` records."""
    rows = [d for d in docs if d["state"] in ("error", "dead")]
    rows = [d for d in rows if category is None or d.get("category") == category]
    rows.sort(key=lambda d: str(d.get("ts") or ""), reverse=True)
    return [
        {
            "errorId": f"{d['bucket']}/{d['rel']}@{str(d.get('sha256', ''))[:12]}",
            "timestamp": d.get("ts"),
            "severity": "ERROR",
            "category": d.get("category") or ("DeadLetter" if d["state"] == "dead" else "Unknown"),
            "component": "Cluster" if d["state"] == "dead" else "Processor",
            "filePath": f"{d['bucket']}/{d['rel']}",
            "watchDir": d["bucket"],
            "rule": d.get("rule"),
            "operation": "dead-letter" if d["state"] == "dead" else "process",
            "error": {
                "name": d.get("name"),
                "message": d.get("message"),
                "code": d.get("code"),
                "stack": None,
            },
            "context": {"host": d.get("host"), "attempt": d.get("attempt"), "sha256": d.get("sha256")},
            "recovery": {"attempted": False, "fallback": None, "successful": False},
            "suggestion": "obtui --dlq-retry KEY puts it back (see obtui --dlq)"
            if d["state"] == "dead"
            else None,
            "state": d["state"],
            "host": d.get("host"),
        }
        for d in rows[:limit]
    ]


async def status_doc(r: Any) -> dict[str, Any]:
    """Hosts (alive, last heartbeat, in flight, done), stream length, lag, pending, dead letters."""
    now = time.time()
    raw_hosts = await r.hgetall(keys.HOSTS)
    hosts = []
    for name in sorted(raw_hosts):
        try:
            h = json.loads(raw_hosts[name])
        except ValueError:
            h = {}
        alive = bool(await r.exists(keys.alive(name)))
        ts = float(h.get("ts") or 0)
        hosts.append(
            {
                "name": name,
                "alive": alive,
                "lastHeartbeat": ts or None,
                "secondsAgo": round(now - ts, 1) if ts else None,
                "inFlight": int(h.get("in_flight") or 0) if alive else 0,
                "done": int(h.get("done") or 0),
                "pid": h.get("pid"),
                "held": int(h.get("held") or 0) if alive else 0,
            }
        )
    buckets = []
    for b in await bucket_ids(r):
        length = await r.xlen(keys.jobs(b))
        lag = pending = 0
        try:
            for g in await r.xinfo_groups(keys.jobs(b)):
                if g.get("name") == keys.GROUP:
                    lag = int(g.get("lag") or 0)
                    pending = int(g.get("pending") or 0)
        except Exception:  # no stream yet
            pass
        buckets.append(
            {
                "id": b,
                "streamLength": length,
                "lag": lag,
                "pending": pending,
                "dead": await r.xlen(keys.dlq(b)),
            }
        )
    stats = await r.hgetall(keys.STATS)
    return {
        "hosts": hosts,
        "alive": sum(1 for h in hosts if h["alive"]),
        "buckets": buckets,
        "streamLength": sum(b["streamLength"] for b in buckets),
        "lag": sum(b["lag"] for b in buckets),
        "pending": sum(b["pending"] for b in buckets),
        "dead": sum(b["dead"] for b in buckets),
        "stats": {k: int(v) for k, v in stats.items()},
    }


async def dlq_entries(r: Any) -> list[dict[str, Any]]:
    """Every dead-lettered file: key (bucket/entry id), bucket, path, sha256, deliveries, last
    host, last error."""
    out = []
    for b in await bucket_ids(r):
        for sid, f in await r.xrange(keys.dlq(b)):
            out.append(
                {
                    "key": f"{b}/{sid}",
                    "bucket": b,
                    "path": f.get("rel"),
                    "sha256": f.get("sha"),
                    "deliveries": int(f.get("deliveries") or 0),
                    "lastHost": f.get("last_host") or None,
                    "lastError": f.get("last_error") or None,
                    "deadAt": f.get("ts") or None,
                }
            )
    return out


async def retry(r: Any, key: str, by: str) -> tuple[list[str], list[str]]:
    """`--dlq-retry KEY|all`: (keys put back, keys not found)."""
    entries = await dlq_entries(r)
    wanted = [e["key"] for e in entries] if key == "all" else [key]
    done, missing = [], []
    for k in wanted:
        bucket, _, sid = k.rpartition("/")
        if bucket and sid and await dlq_retry(r, bucket, sid, by):
            done.append(k)
        else:
            missing.append(k)
    return done, missing
