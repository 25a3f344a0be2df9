"""Counters, rates and the processing-time histogram behind `Metrics` snapshots."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from obtui.api.snapshot import Figures, Metrics
from obtui.tracking.codec import now_iso
from obtui.tracking.latest import superseded
from obtui.tracking.records import ManifestEntry

_HISTORY = 300  # seconds of per-second samples kept for sparklines
_RATE_WINDOW = 10  # seconds averaged for the "current" rates
_DURATIONS = 20_000  # recent durations kept for percentiles


class MetricsCollector:
    """Owned by the engine loop; `snapshot()` returns an immutable `Metrics`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.started = clock()
        self.events_received = 0
        self.events_processed = 0
        self.successful = 0
        self.failed = 0
        self.error_records = 0
        self.since = now_iso()  # outcomes on record from here on are this run's
        self.skipped_unchanged = 0
        self.bytes_processed = 0
        self.overflows = 0
        self.rescans = 0
        self._dmin = math.inf
        self._dmax = 0.0
        self._dsum = 0.0
        self._dcount = 0
        self._durations: deque[float] = deque(maxlen=_DURATIONS)
        self._sec = int(clock())
        self._ev_now = 0
        self._files_now = 0
        self._ev_hist: deque[float] = deque(maxlen=_HISTORY)
        self._files_hist: deque[float] = deque(maxlen=_HISTORY)

    def _roll(self) -> None:
        sec = int(self._clock())
        if sec == self._sec:
            return
        gap = min(sec - self._sec, _HISTORY)
        self._ev_hist.append(float(self._ev_now))
        self._files_hist.append(float(self._files_now))
        for _ in range(gap - 1):
            self._ev_hist.append(0.0)
            self._files_hist.append(0.0)
        self._ev_now = self._files_now = 0
        self._sec = sec

    def event(self, n: int = 1) -> None:
        self._roll()
        self.events_received += n
        self._ev_now += n

    def ready(self) -> None:
        self.events_processed += 1

    def outcome(self, ok: bool, duration_ms: float, nbytes: int, prior: ManifestEntry | None = None) -> None:
        """A file's outcome; `prior` is its manifest entry before it. A file counts by its latest
        outcome (see `Figures`): its outcome earlier in this run (`prior` settled since the run
        started, kept in place) stops counting. Bytes and durations count the work done."""
        self._roll()
        gone = superseded(prior)
        if prior is not None and gone is not None and prior.processed_at >= self.since:
            if gone == "success" and self.successful:
                self.successful -= 1
            elif gone == "failure" and self.failed:
                self.failed -= 1
        if ok:
            self.successful += 1
            self.bytes_processed += nbytes
        else:
            self.failed += 1
        self._files_now += 1
        self._dmin = min(self._dmin, duration_ms)
        self._dmax = max(self._dmax, duration_ms)
        self._dsum += duration_ms
        self._dcount += 1
        self._durations.append(duration_ms)

    def error_record(self) -> None:
        """One more error record this run (warnings included)."""
        self.error_records += 1

    def figures(self) -> Figures:
        """This run's outcome figures so far."""
        return Figures(self.successful, self.failed, self.error_records)

    def _rate(self, hist: deque[float], now_count: int) -> float:
        recent = list(hist)[-(_RATE_WINDOW - 1) :]
        elapsed_in_sec = self._clock() - self._sec
        total = sum(recent) + now_count
        span = len(recent) + max(elapsed_in_sec, 0.001)
        return total / span if span else 0.0

    def snapshot(self, queue_depth: int) -> Metrics:
        self._roll()
        d = sorted(self._durations)

        def pct(q: float) -> float:
            if not d:
                return 0.0
            return d[min(len(d) - 1, max(0, math.ceil(q * len(d)) - 1))]

        return Metrics(
            events_received=self.events_received,
            events_processed=self.events_processed,
            event_rate=round(self._rate(self._ev_hist, self._ev_now), 2),
            files_processed=self.successful + self.failed,
            successful=self.successful,
            failed=self.failed,
            error_records=self.error_records,
            skipped_unchanged=self.skipped_unchanged,
            bytes_processed=self.bytes_processed,
            file_rate=round(self._rate(self._files_hist, self._files_now), 2),
            duration_min_ms=round(self._dmin, 3) if self._dcount else 0.0,
            duration_avg_ms=round(self._dsum / self._dcount, 3) if self._dcount else 0.0,
            duration_p50_ms=round(pct(0.50), 3),
            duration_p95_ms=round(pct(0.95), 3),
            duration_max_ms=round(self._dmax, 3),
            queue_depth=queue_depth,
            uptime_s=round(self._clock() - self.started, 3),
            overflows=self.overflows,
            rescans=self.rescans,
            event_rate_history=tuple(self._ev_hist),
            file_rate_history=tuple(self._files_hist),
        )
