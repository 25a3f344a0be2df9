"""The per-file protocol on Redis Streams (redis.asyncio): enqueue once, take, renew, finish
(fenced), reclaim after the lease, dead-letter after `max_deliveries`, retry from the dead-letter
stream. Every call is one round trip; the scripts are in `obtui.cluster.scripts`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from obtui.cluster import keys, scripts

# Redis is down or cut off: retried with backoff, never taken for an answer.
DOWN = (RedisConnectionError, RedisTimeoutError, OSError)
FinishResult = Literal["committed", "refused", "duplicate"]


@dataclass
class Delivery:
    """One stream entry handed to this host: a file version to process."""

    bucket: str
    stream_id: str
    rel: str
    sha256: str
    size: int
    deliveries: int = 1
    is_dir: bool = False

    @property
    def field(self) -> str:
        return keys.field(self.rel, self.sha256)

    @property
    def job_key(self) -> str:
        return keys.job_key(self.bucket, self.rel, self.sha256)


def _delivery(bucket: str, sid: str, f: dict[str, str], deliveries: int = 1) -> Delivery:
    return Delivery(
        bucket,
        sid,
        f.get("rel", ""),
        f.get("sha", ""),
        int(f.get("size") or 0),
        deliveries,
        f.get("kind") == "dir",
    )


@dataclass(frozen=True)
class Version:
    """One file version to enqueue: its name in the bucket, content hash, size and stat key."""

    rel: str
    sha256: str
    size: int
    is_dir: bool = False
    stat: str = ""


def _by_bucket(ds: Sequence[Delivery]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, d in enumerate(ds):
        out.setdefault(d.bucket, []).append(i)
    return out


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"


def connect(url: str, **kw: Any) -> Redis:
    """A redis.asyncio client for `url`; socket timeouts above the longest BLOCK we use
    (redis-py#2807: a blocking read longer than socket_timeout raises TimeoutError)."""
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=kw.pop("socket_timeout", 5.0),
        socket_connect_timeout=kw.pop("socket_connect_timeout", 2.0),
        health_check_interval=kw.pop("health_check_interval", 0),
        **kw,
    )


class Coordinator:
    """This host's side of the protocol. `host` is the consumer name in every bucket's group."""

    def __init__(self, redis: Redis, host: str, *, lease_ms: int, max_deliveries: int) -> None:
        self.r = redis
        self.host = host
        self.lease_ms = lease_ms
        self.max_deliveries = max_deliveries
        self._renew = redis.register_script(scripts.RENEW)
        self._dead = redis.register_script(scripts.DEAD)
        self._dlq_retry = redis.register_script(scripts.DLQ_RETRY)
        self._hand_back = redis.register_script(scripts.HAND_BACK)
        self._enqueue_many = redis.register_script(scripts.ENQUEUE_MANY)
        self._begin_many = redis.register_script(scripts.BEGIN_MANY)
        self._finish_many = redis.register_script(scripts.FINISH_MANY)

    # -- set-up --------------------------------------------------------------------------------

    async def ensure_group(self, bucket: str) -> None:
        """Create the bucket's stream and consumer group (idempotent; again after a data loss)."""
        try:
            await self.r.xgroup_create(keys.jobs(bucket), keys.GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    # -- producing -----------------------------------------------------------------------------

    async def enqueue(
        self, bucket: str, rel: str, sha256: str, size: int, is_dir: bool = False, stat_field: str = ""
    ) -> str | None:
        """Queue one file version, once cluster-wide and for good. The stream id, or None when
        it was already queued or done (by any host, at any time)."""
        res = await self.enqueue_many(bucket, [Version(rel, sha256, size, is_dir, stat_field)])
        return res[0]

    async def enqueue_many(self, bucket: str, versions: Sequence[Version]) -> list[str | None]:
        """`enqueue` for several file versions of one bucket in one round trip; answers in order."""
        if not versions:
            return []
        queued = json.dumps({"state": "queued", "by": self.host, "ts": now_iso()})
        args: list[Any] = [queued, bucket, self.host]
        for v in versions:
            args += [
                keys.field(v.rel, v.sha256),
                v.rel,
                v.sha256,
                v.size,
                "dir" if v.is_dir else "file",
                v.stat,
            ]
        res = await self._enqueue_many(
            keys=[keys.files(bucket), keys.jobs(bucket), keys.STATS, keys.BUCKETS, keys.seen(bucket)],
            args=args,
        )
        return [str(x) if x else None for x in res]

    async def known_stats(self, bucket: str, stat_fields: list[str]) -> list[bool]:
        """For each `keys.stat_field`: was a file with exactly this name, size and mtime queued
        before (by any host)? Lets a re-scan skip hashing what is known."""
        if not stat_fields:
            return []
        return [v is not None for v in await self.r.hmget(keys.seen(bucket), stat_fields)]

    # -- consuming -----------------------------------------------------------------------------

    async def take(
        self, buckets: list[str], count: int, block_ms: int, *, own: bool = False
    ) -> list[Delivery]:
        """New entries (XREADGROUP `>`), or with own=True this host's own pending ones (`0`):
        a restarted host resumes what it held at once."""
        if count <= 0 or not buckets:
            return []
        streams = {keys.jobs(b): ("0" if own else ">") for b in buckets}
        reply: Any = await self.r.xreadgroup(
            keys.GROUP,
            self.host,
            streams,  # type: ignore[arg-type]
            count=count,
            block=None if own else block_ms,
        )
        out: list[Delivery] = []
        by_key = {keys.jobs(b): b for b in buckets}
        for stream, entries in reply or []:
            bucket = by_key[stream]
            for sid, f in entries:
                if f:  # an own pending entry that was deleted comes back with no fields
                    out.append(_delivery(bucket, sid, f))
        return out

    async def begin(self, d: Delivery) -> Literal["run", "done", "lost"]:
        """Check, right before running, that the file is still ours and has no outcome; fills
        `d.deliveries` (OBTUI_ATTEMPT)."""
        return (await self.begin_many([d]))[0]

    async def begin_many(self, ds: Sequence[Delivery]) -> list[Literal["run", "done", "lost"]]:
        """`begin` for several deliveries (one round trip per bucket); each checked on its own."""
        answers: dict[int, Literal["run", "done", "lost"]] = {}
        for bucket, idx in _by_bucket(ds).items():
            args: list[Any] = [keys.GROUP, self.host, now_iso()]
            for i in idx:
                args += [ds[i].stream_id, ds[i].field]
            reply = await self._begin_many(keys=[keys.jobs(bucket), keys.files(bucket)], args=args)
            for i, (code, n) in zip(idx, reply, strict=True):
                if int(n):
                    ds[i].deliveries = int(n)
                answers[i] = "run" if code == 1 else "done" if code == 2 else "lost"
        return [answers[i] for i in range(len(ds))]

    async def renew(self, bucket: str, ids: list[str]) -> list[str]:
        """Extend the lease on `ids` (reset their idle time). Returns the ids this host lost."""
        if not ids:
            return []
        lost = await self._renew(keys=[keys.jobs(bucket)], args=[keys.GROUP, self.host, *ids])
        return [str(x) for x in lost]

    async def hand_back(self, bucket: str, ids: list[str]) -> int:
        """A clean stop: make `ids` (still ours) reclaimable by other hosts at once."""
        if not ids:
            return 0
        return int(
            await self._hand_back(keys=[keys.jobs(bucket)], args=[keys.GROUP, self.host, self.lease_ms, *ids])
        )

    async def finish(self, d: Delivery, state: str, outcome: dict[str, Any]) -> FinishResult:
        """Record the outcome and acknowledge, in one fenced script. `refused` when this host lost
        the lease (nothing was written); `duplicate` when an outcome was already recorded."""
        return (await self.finish_many([(d, state, outcome)]))[0]

    async def finish_many(self, items: Sequence[tuple[Delivery, str, dict[str, Any]]]) -> list[FinishResult]:
        """`finish` for several outcomes in one fenced script per bucket (one round trip): each
        outcome is checked against its own lease, so a lost one is refused and the rest commit."""
        docs = [self._doc(d, state, outcome) for d, state, outcome in items]
        codes: dict[int, int] = {}
        for bucket, idx in _by_bucket([d for d, _, _ in items]).items():
            args: list[Any] = [keys.GROUP, self.host, bucket]
            for i in idx:
                d, state, _ = items[i]
                args += [d.stream_id, d.field, json.dumps(docs[i]), state]
            reply = await self._finish_many(
                keys=[keys.jobs(bucket), keys.files(bucket), keys.OUTCOMES, keys.STATS], args=args
            )
            for i, (code, _n) in zip(idx, reply, strict=True):
                codes[i] = int(code)
        out: list[FinishResult] = []
        lost = 0
        for i, (d, state, _) in enumerate(items):
            code = codes[i]
            if code == 1:
                out.append("committed")
            elif code == 2:
                out.append("duplicate")
            elif code == -1 and state != "skipped" and await self._ours(d, docs[i]["token"]):
                out.append("committed")
            else:
                lost += 1
                out.append("refused")
        if lost:
            await self.r.hincrby(keys.STATS, "lease_lost", lost)
        return out

    async def _ours(self, d: Delivery, token: str) -> bool:
        """Not pending any more: did our own earlier try commit it (the reply was lost)?"""
        cur = await self.r.hget(keys.files(d.bucket), d.field)
        return cur is not None and json.loads(cur).get("token") == token

    def _doc(self, d: Delivery, state: str, outcome: dict[str, Any]) -> dict[str, Any]:
        return {
            "state": state,
            "bucket": d.bucket,
            "rel": d.rel,
            "sha256": d.sha256,
            "host": self.host,
            "attempt": d.deliveries,
            "token": f"{self.host}|{d.stream_id}|{d.deliveries}",
            "ts": now_iso(),
            **outcome,
        }

    async def reclaim(self, bucket: str, count: int = 10) -> tuple[list[Delivery], int]:
        """Take over entries idle longer than the lease (their host died or was cut off),
        following XAUTOCLAIM's cursor to the end. Entries delivered more than `max_deliveries`
        times go to the dead-letter stream. Returns (to run here, number dead-lettered)."""
        stream = keys.jobs(bucket)
        cursor = "0-0"
        runnable: list[Delivery] = []
        dead = 0
        while True:
            # Who holds the idle entries now, for the dead-letter record's "last host".
            idle = await self.r.xpending_range(
                stream, keys.GROUP, cursor, "+", count * 10, idle=self.lease_ms
            )
            owners = {p["message_id"]: str(p["consumer"]) for p in idle}
            if not idle:
                return runnable, dead
            reply = await self.r.xautoclaim(
                stream, keys.GROUP, self.host, self.lease_ms, start_id=cursor, count=count
            )
            cursor, claimed = reply[0], reply[1]
            claimed = [(sid, f) for sid, f in claimed if f]
            if claimed:
                pending = await self.r.xpending_range(
                    stream,
                    keys.GROUP,
                    claimed[0][0],
                    claimed[-1][0],
                    len(claimed) * 2,
                    consumername=self.host,
                )
                counts = {p["message_id"]: int(p["times_delivered"]) for p in pending}
                await self.r.hincrby(keys.STATS, "reclaimed", len(claimed))
                over = [(sid, f) for sid, f in claimed if counts.get(sid, 1) > self.max_deliveries]
                begins = await self._begins(
                    bucket, [keys.field(f.get("rel", ""), f.get("sha", "")) for _, f in over]
                )
                for sid, f in claimed:
                    d = _delivery(bucket, sid, f, counts.get(sid, 1))
                    # Dead-letter a file that started running max_deliveries times without an
                    # outcome, not one that only sat in the local queue of hosts that died (a
                    # poison file's neighbours); a hard cap keeps anything from cycling forever.
                    started = begins.get(d.field, 0)
                    if d.deliveries > self.max_deliveries and (
                        started >= self.max_deliveries or d.deliveries > 3 * self.max_deliveries
                    ):
                        dead += await self.dead_letter(d, owners.get(d.stream_id, "")) == 1
                    else:
                        runnable.append(d)
            if cursor in ("0-0", b"0-0"):
                return runnable, dead

    async def _begins(self, bucket: str, fields: list[str]) -> dict[str, int]:
        if not fields:
            return {}
        out = {}
        for f, raw in zip(fields, await self.r.hmget(keys.files(bucket), fields), strict=True):
            try:
                out[f] = int(json.loads(raw).get("begins") or 0) if raw else 0
            except (ValueError, TypeError, AttributeError):
                out[f] = 0
        return out

    async def dead_letter(self, d: Delivery, previous_owner: str = "") -> int:
        reason = f"no outcome after {d.deliveries - 1} deliveries (its hosts died or lost their lease)"
        doc = {
            "state": "dead",
            "bucket": d.bucket,
            "rel": d.rel,
            "sha256": d.sha256,
            "host": self.host,
            "attempt": d.deliveries - 1,
            "ts": now_iso(),
            "category": "DeadLetter",
            "message": reason,
        }
        code, _ = await self._dead(
            keys=[keys.jobs(d.bucket), keys.files(d.bucket), keys.dlq(d.bucket), keys.STATS, keys.OUTCOMES],
            args=[
                keys.GROUP,
                self.host,
                d.stream_id,
                d.field,
                json.dumps(doc),
                "dead",
                d.bucket,
                d.rel,
                d.sha256,
                d.size,
                d.deliveries - 1,
                reason,
                previous_owner,
                "dir" if d.is_dir else "file",
            ],
        )
        return int(code)

    # -- hosts ---------------------------------------------------------------------------------

    async def heartbeat(self, info: dict[str, Any], ttl_ms: int) -> None:
        """Announce this host as alive for `ttl_ms`, with its figures."""
        doc = json.dumps({"name": self.host, "ts": time.time(), **info})
        async with self.r.pipeline(transaction=False) as p:
            p.set(keys.alive(self.host), doc, px=ttl_ms)
            p.hset(keys.HOSTS, self.host, doc)
            await p.execute()

    async def sign_off(self) -> None:
        """A clean stop: no longer alive (the figures stay in the hosts table)."""
        await self.r.delete(keys.alive(self.host))


async def dlq_retry(r: Redis, bucket: str, dlq_id: str, by: str) -> str | None:
    """Put one dead-lettered file back on its bucket's stream (a fresh delivery count)."""
    script = r.register_script(scripts.DLQ_RETRY)
    queued = json.dumps({"state": "queued", "by": by, "ts": now_iso(), "retried": True})
    res = await script(
        keys=[keys.dlq(bucket), keys.files(bucket), keys.jobs(bucket), keys.STATS], args=[dlq_id, queued, by]
    )
    return str(res) if res else None
