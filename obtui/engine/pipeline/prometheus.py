"""`/metrics` for Prometheus, served while the engine runs when `[metrics] listen` (or
`--metrics-listen`) is set. `prometheus_client` is imported only then.

Per-file outcomes come from the engine's outcome events, counted from the store's history at
start so that `obtui_files_total` agrees with `obtui --report`; the gauges are read from the
engine's latest snapshot at scrape time (an immutable object, safe to read from the HTTP thread).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import Any, Protocol

from obtui.api.snapshot import EngineSnapshot
from obtui.config.listen import parse_listen

log = logging.getLogger("obtui.engine")

# Seconds; note actions take milliseconds, command rules up to their timeout.
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600, 3600)


class OutcomeHistory(Protocol):
    """What the counters start from: the store (read with `report_query.outcomes_by_rule`)."""

    def reading(self) -> sqlite3.Connection: ...


async def start_exporter(
    listen: str | None,
    snapshot: Callable[[], EngineSnapshot],
    subscribe: Callable[[Callable[[dict[str, Any]], None]], None],
    history: OutcomeHistory,
) -> Coroutine[Any, Any, None]:
    """Count from `history`, follow the outcome events and serve /metrics on `listen` (nothing,
    and no prometheus_client import, when None). Call on the engine loop before any file is
    processed; raises MetricsListenError. Returns the engine task to run: it keeps serving until
    cancelled at shutdown, then closes the server."""
    if not listen:
        return asyncio.sleep(0)
    exporter = PrometheusExporter(listen, snapshot)
    from obtui.tracking.report_query import outcomes_by_rule

    exporter.seed(await asyncio.to_thread(lambda: outcomes_by_rule(history.reading())))
    subscribe(exporter.on_event)
    exporter.start()
    return _serve_until_cancelled(exporter)


async def _serve_until_cancelled(exporter: PrometheusExporter) -> None:
    try:
        await asyncio.Event().wait()
    finally:
        await asyncio.to_thread(exporter.close)


class MetricsListenError(Exception):
    """The metrics endpoint could not be served (address in use, not an address of this host)."""


class PrometheusExporter:
    """Owns a registry, the HTTP server thread and the outcome counters."""

    def __init__(self, listen: str, snapshot: Callable[[], EngineSnapshot]) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector

        self.listen = listen
        self.host, self.port = parse_listen(listen)
        self._snapshot = snapshot
        self.registry = CollectorRegistry(auto_describe=True)
        self.files = Counter(
            "obtui_files",
            "Files processed, by bucket, rule and outcome (success or failure), all time",
            ("bucket", "rule", "outcome"),
            registry=self.registry,
        )
        self.seconds = Histogram(
            "obtui_processing_seconds",
            "Time to process one file successfully (action and record), since this start",
            ("bucket", "rule"),
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_SnapshotCollector(snapshot))
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total, memory, open fds
        self._server: Any = None

    def seed(self, history: Iterable[tuple[str, str, str, int]]) -> None:
        """Start the counters at the store's totals: (bucket, rule, outcome, count) rows."""
        for bucket, rule, outcome, n in history:
            self.files.labels(bucket, rule, outcome).inc(n)

    def on_event(self, event: dict[str, Any]) -> None:
        """An engine outcome event (`Engine.subscribe`)."""
        kind = event.get("event")
        bucket, rule = event.get("watchDir") or "", event.get("rule") or ""
        if kind == "success":
            self.files.labels(bucket, rule, "success").inc()
            seconds = (event.get("processing") or {}).get("duration", 0.0) / 1000
            self.seconds.labels(bucket, rule).observe(seconds)
        elif kind == "error" and event.get("failedFile"):
            self.files.labels(bucket, rule, "failure").inc()

    def start(self) -> None:
        """Serve /metrics on a thread of its own. Raises MetricsListenError."""
        from prometheus_client import start_http_server

        try:
            self._server, _thread = start_http_server(self.port, self.host, registry=self.registry)
        except OSError as exc:
            raise MetricsListenError(
                f"cannot serve metrics on {self.listen}: {exc.strerror or exc} "
                "(set [metrics] listen or --metrics-listen to a free HOST:PORT)"
            ) from None
        log.info("serving Prometheus metrics on http://%s/metrics", self.listen)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _SnapshotCollector:
    """Gauges and engine-wide counters, read from the latest snapshot at each scrape."""

    def __init__(self, snapshot: Callable[[], EngineSnapshot]) -> None:
        self._snapshot = snapshot

    def describe(self) -> list[Any]:
        return []  # the families are built at collect time; nothing to check for duplicates

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        snap = self._snapshot()
        m, q = snap.metrics, snap.queue
        yield GaugeMetricFamily("obtui_queue_depth", "Files ready and waiting for a worker", value=q.pending)
        yield GaugeMetricFamily(
            "obtui_files_in_progress", "Files being processed right now", value=q.processing
        )
        yield CounterMetricFamily(
            "obtui_events", "File system events received, since this start", value=m.events_received
        )
        yield CounterMetricFamily(
            "obtui_watcher_overflows",
            "Watcher overflows (each forces a rescan), since this start",
            value=m.overflows,
        )
        yield GaugeMetricFamily(
            "obtui_up",
            "1 while the engine runs (or is paused), else 0",
            value=int(snap.state in ("running", "paused")),
        )
