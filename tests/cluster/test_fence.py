"""The host's group commit for the fenced FINISH (obtui.cluster.fence) against a real
redis-server: outcomes asked for together go in one script, and each is still checked against
its own lease."""

from __future__ import annotations

import asyncio
import json

from obtui.cluster import keys
from obtui.cluster.node import ClusterNode
from obtui.cluster.protocol import Coordinator, Version, connect
from obtui.cluster.seams import Held
from obtui.config.model import ClusterConfig, RunnerConfig
from obtui.engine.jobs import Job

B = "inbox"


def scripts_run(server) -> int:  # type: ignore[no-untyped-def]
    """EVALSHA calls that ran (a first call per client is refused with NOSCRIPT, then loaded)."""
    st = server.client().info("commandstats").get("cmdstat_evalsha", {})
    return int(st.get("calls", 0)) - int(st.get("failed_calls", 0))


async def test_finishes_asked_together_go_in_one_script_each_fenced_on_its_own(redis_server, tmp_path):
    node = ClusterNode(ClusterConfig(redis_server.url, "alpha"), tuple, RunnerConfig, tuple)
    thief = Coordinator(connect(redis_server.url), "beta", lease_ms=30_000, max_deliveries=5)
    try:
        await node.coord.ensure_group(B)
        await node.coord.enqueue_many(B, [Version(f"f{i}.txt", f"{i:064x}", 1) for i in range(4)])
        ds = await node.coord.take([B], 10, 100)
        assert await node.coord.begin_many(ds) == ["run"] * 4
        helds = [Held(d, Job(str(tmp_path / d.rel), str(tmp_path), d.rel, "cluster")) for d in ds]
        # beta takes f2 over (as after alpha's lease ran out): alpha's finish of f2 is refused.
        await thief.r.xclaim(keys.jobs(B), keys.GROUP, "beta", 0, [ds[2].stream_id])

        before = scripts_run(redis_server)
        answers = await asyncio.gather(*(node.fence.finish([(h, "ok", {"rule": "r"})]) for h in helds))
        assert scripts_run(redis_server) - before == 1  # four outcomes, one script
        assert [a[0] is None for a in answers] == [True, True, False, True]
        assert "lost its lease" in str(answers[2][0])
        assert [h.finished for h in helds] == [True, True, False, True]

        files = await node.r.hgetall(keys.files(B))
        states = {f.split("\0")[0]: json.loads(v)["state"] for f, v in files.items()}
        assert states == {"f0.txt": "ok", "f1.txt": "ok", "f2.txt": "queued", "f3.txt": "ok"}
        assert await node.r.xpending(keys.jobs(B), keys.GROUP) == {
            "pending": 1,
            "min": ds[2].stream_id,
            "max": ds[2].stream_id,
            "consumers": [{"name": "beta", "pending": 1}],
        }
    finally:
        await node.fence.close()
        await node.r.aclose()
        await thief.r.aclose()
