"""`obtui --status --cluster`, `--report --cluster`, `--errors --cluster`, `--dlq`, `--dlq-retry`:
answered from Redis alone (any host, or a machine that runs no engine). Imports redis-py only
when one of these is asked for.

Exit codes: 0; 2 when cluster mode is not configured or Redis cannot be reached; 3 for
`--status --cluster` when no host is alive; 1 for `--dlq-retry` when a key was not found.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

from obtui.cli.text import category_rows, dump_json, ms, num, pct, safe_out, since_words, when, write_rows

ENV_URL = "OBTUI_REDIS_URL"


def resolve_url(cli_value: str | None, config: Any | None) -> str | None:
    """The Redis URL: `--cluster URL`, else $OBTUI_REDIS_URL, else [cluster] redis."""
    if cli_value:
        return cli_value
    if os.environ.get(ENV_URL):
        return os.environ[ENV_URL]
    cluster = getattr(config, "cluster", None)
    return cluster.redis if cluster is not None else None


def wants_cluster_view(args: argparse.Namespace) -> bool:
    return bool(args.dlq or args.dlq_retry) or (
        args.cluster is not None and bool(args.report or args.errors or args.status)
    )


def run(args: argparse.Namespace, since: str | None, category: str | None) -> int:
    """Dispatch one cluster view."""
    from obtui.config.errors import ConfigError
    from obtui.config.loader import load_config

    try:
        config = load_config(args.config, required=args.config is not None)
    except ConfigError as exc:
        if not (args.cluster or os.environ.get(ENV_URL)):
            print(f"obtui: invalid configuration:\n{exc}", file=sys.stderr)
            return 2
        config = None  # the URL is given; the rest of the config does not matter here
    url = resolve_url(args.cluster, config)
    if not url:
        print(
            'obtui: cluster mode is not configured: add [cluster] redis = "redis://HOST:6379/0" to the '
            f"config, or pass --cluster URL, or set ${ENV_URL}",
            file=sys.stderr,
        )
        return 2
    try:
        import redis  # noqa: F401
    except ImportError:
        print("obtui: cluster mode needs redis-py: pip install 'obtui[cluster]'", file=sys.stderr)
        return 2
    by = (config.cluster.host if config is not None and config.cluster else None) or "cli"
    out = safe_out(None)
    if args.dlq_retry:
        return _call(url, lambda r: _retry(r, args.dlq_retry, by, out))
    if args.dlq:
        return _call(url, lambda r: _dlq(r, args.json, out))
    if args.status:
        return _call(url, lambda r: _status(r, url, args.json, out))
    if args.report:
        return _call(url, lambda r: _report(r, since, args.json, out))
    return _call(url, lambda r: _errors(r, since, args.limit, category, args.json, out))


def _call(url: str, fn: Callable[[Any], Awaitable[int]]) -> int:
    from redis.exceptions import RedisError

    from obtui.cluster.protocol import connect

    async def main() -> int:
        r = connect(url)
        try:
            return await fn(r)
        finally:
            await r.aclose()

    try:
        return asyncio.run(main())
    except (RedisError, OSError, ValueError) as exc:
        print(f"obtui: cannot reach the cluster's Redis at {masked(url)}: {exc}", file=sys.stderr)
        return 2


def masked(url: str) -> str:
    """The URL without its password."""
    from obtui.config.cluster import masked_url

    return masked_url(url)


async def _status(r: Any, url: str, as_json: bool, out: TextIO) -> int:
    from obtui.cluster.views import status_doc

    doc = await status_doc(r)
    if as_json:
        dump_json(out, {"redis": masked(url), **doc})
    else:
        out.write(f"Cluster at {masked(url)}: {len(doc['hosts'])} host(s), {doc['alive']} alive\n\n")
        for h in doc["hosts"]:
            beat = f"{h['secondsAgo']}s ago" if h["secondsAgo"] is not None else "never"
            state = "alive" if h["alive"] else "gone (no heartbeat)"
            out.write(
                f"  {h['name']:<16} {state:<16} heartbeat {beat:<10} in flight {h['inFlight']:<4} "
                f"done {num(h['done'])}\n"
            )
        if not doc["hosts"]:
            out.write("  no host has joined yet\n")
        out.write(
            f"\nQueue: {num(doc['streamLength'])} in the streams, lag {num(doc['lag'])}, "
            f"pending {num(doc['pending'])}, dead-lettered {num(doc['dead'])}\n"
        )
        for b in doc["buckets"]:
            out.write(
                f"  {b['id']:<16} stream {num(b['streamLength'])}, lag {num(b['lag'])}, "
                f"pending {num(b['pending'])}, dead {num(b['dead'])}\n"
            )
    return 0 if doc["alive"] else 3


async def _report(r: Any, since: str | None, as_json: bool, out: TextIO) -> int:
    from obtui.cluster.views import outcomes, report_doc

    doc = report_doc(await outcomes(r, since), since)
    if as_json:
        dump_json(out, doc)
        return 0
    out.write(f"Cluster success report, {since_words(since)} (every host)\n")
    if not doc["directories"]:
        out.write("\nno files processed in that time\n")
    for d in doc["directories"]:
        out.write(f"\n{d['directory']}\n")
        write_rows(
            out,
            [
                ("Processed", num(d["total"])),
                ("Successful", f"{num(d['successful'])} ({pct(d['successful'], d['total'])})"),
                ("Failed", f"{num(d['failed'])} ({pct(d['failed'], d['total'])})"),
                ("Dead-lettered", num(d["dead"])),
                ("Avg duration", ms(d["avgDurationMs"]) if d["successful"] else "-"),
                ("Last file", f"{d['lastFile'] or '-'}, {when(d['lastAt'])}"),
            ],
        )
    t = doc["totals"]
    out.write(
        f"\nTotals: {num(t['processed'])} processed, {num(t['successful'])} successful "
        f"({pct(t['successful'], t['processed'])}), {num(t['failed'])} failed, {num(t['dead'])} dead-lettered\n"
    )
    if doc["errorsByCategory"]:
        out.write("\nErrors by category:\n")
        category_rows(out, doc["errorsByCategory"])
    return 0


async def _errors(
    r: Any, since: str | None, limit: int, category: str | None, as_json: bool, out: TextIO
) -> int:
    from obtui.cluster.views import error_docs, outcomes

    rows = error_docs(await outcomes(r, since), limit, category)
    if as_json:
        dump_json(out, rows)
        return 0
    if not rows:
        out.write(f"no failed or dead-lettered files in the cluster ({since_words(since)})\n")
        return 0
    out.write(f"{len(rows)} failed or dead-lettered file(s), newest first ({since_words(since)}):\n")
    for e in rows:
        out.write(f"\n{e['filePath']}  {when(e['timestamp'])}  {e['state']}  {e['category']}\n")
        write_rows(
            out,
            [
                (k, str(v))
                for k, v in (
                    ("message", e["error"]["message"]),
                    ("host", e["host"]),
                    ("attempt", e["context"]["attempt"]),
                    ("rule", e["rule"]),
                )
                if v
            ],
        )
    return 0


async def _dlq(r: Any, as_json: bool, out: TextIO) -> int:
    from obtui.cluster.views import dlq_entries

    rows = await dlq_entries(r)
    if as_json:
        dump_json(out, rows)
        return 0
    if not rows:
        out.write("the dead-letter queue is empty\n")
        return 0
    out.write(f"{len(rows)} dead-lettered file(s); put one back with obtui --dlq-retry KEY (or all):\n")
    for e in rows:
        out.write(f"\n{e['key']}\n")
        write_rows(
            out,
            [
                ("file", f"{e['bucket']}/{e['path']}"),
                ("sha256", e["sha256"] or "-"),
                ("deliveries", str(e["deliveries"])),
                ("last host", e["lastHost"] or "-"),
                ("last error", e["lastError"] or "-"),
            ],
        )
    return 0


async def _retry(r: Any, key: str, by: str, out: TextIO) -> int:
    from obtui.cluster.views import retry

    done, missing = await retry(r, key, by)
    for k in done:
        out.write(f"put back {k}\n")
    for k in missing:
        print(f"obtui: no dead-lettered file {k!r} (see obtui --dlq)", file=sys.stderr)
    if key == "all" and not done:
        out.write("the dead-letter queue is empty\n")
        return 0
    return 1 if missing else 0
