"""The dashboard's view of the cluster: a thread that reads `obtui --status --cluster`'s figures
from Redis every ~1.5 s (its own connection and event loop, never the engine loop's) and keeps
the latest as an `obtui.api.snapshot.ClusterView` for the engine's publisher."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time
from typing import Any

from obtui.api.snapshot import ClusterHost, ClusterView
from obtui.cluster.protocol import connect
from obtui.cluster.views import status_doc
from obtui.config.cluster import masked_url

log = logging.getLogger("obtui.cluster")
INTERVAL_SECONDS = 1.5


def view_of(doc: dict[str, Any], host: str, redis: str, taken_at: float) -> ClusterView:
    """A `ClusterView` from `views.status_doc`'s document."""
    return ClusterView(
        host=host,
        redis=redis,
        hosts=tuple(
            ClusterHost(h["name"], bool(h["alive"]), h["lastHeartbeat"], int(h["inFlight"]), int(h["done"]))
            for h in doc["hosts"]
        ),
        stream_length=int(doc["streamLength"]),
        lag=int(doc["lag"]),
        pending=int(doc["pending"]),
        dead=int(doc["dead"]),
        taken_at=taken_at,
    )


class ClusterWatch:
    """Call it for the latest view (any thread); `start()` once, `stop()` at shutdown."""

    def __init__(self, url: str, host: str, interval: float = INTERVAL_SECONDS) -> None:
        self.url = url
        self.interval = interval
        self._view = ClusterView(host=host, redis=masked_url(url))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="obtui-cluster-view", daemon=True)

    def __call__(self) -> ClusterView:
        return self._view

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Ask the thread to end and wait for it (at most `timeout` seconds)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        # Short timeouts: a view a few seconds old is fine, a stop that waits on Redis is not.
        r = connect(self.url, socket_timeout=2.0, socket_connect_timeout=1.0)
        try:
            while not self._stop.is_set():
                self._read(loop, r)
                self._stop.wait(self.interval)
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(r.aclose())
            loop.close()

    def _read(self, loop: asyncio.AbstractEventLoop, r: Any) -> None:
        old = self._view
        try:
            doc = loop.run_until_complete(status_doc(r))
        except Exception as exc:  # Redis down or cut off: keep the last figures, say why
            error = f"Redis unreachable: {exc}" if str(exc) else f"Redis unreachable ({type(exc).__name__})"
            if old.error is None:
                log.debug("cluster view: %s", error)
            self._view = dataclasses.replace(old, error=error)
            return
        self._view = view_of(doc, old.host, old.redis, time.time())
