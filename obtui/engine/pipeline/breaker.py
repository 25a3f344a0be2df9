"""Per-rule circuit breaker.

Opens after `threshold` straight failures of the rule's own tool; while open, files wait (they are
not failed); after `reset_seconds` it half-opens and lets one file through as a trial: success
closes it and releases the waiting files, failure opens it again.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Generic, Literal, TypeVar

T = TypeVar("T")
State = Literal["closed", "open", "half-open"]


class CircuitBreaker(Generic[T]):
    def __init__(
        self,
        name: str,
        threshold: int = 5,
        reset_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.threshold = threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self.state: State = "closed"
        self.failures = 0
        self.opened_at: float | None = None  # monotonic
        self.opened_wall: float | None = None
        self.trial_running = False
        self.waiting: deque[T] = deque()

    def allow(self) -> bool:
        """May a file of this rule run now? (Moves open → half-open once the reset time passed.)"""
        if self.state == "closed":
            return True
        if (
            self.state == "open"
            and self.opened_at is not None
            and self._clock() - self.opened_at >= self.reset_seconds
        ):
            self.state = "half-open"
        if self.state == "half-open" and not self.trial_running:
            self.trial_running = True
            return True
        return False

    def seconds_until_half_open(self) -> float:
        if self.state != "open" or self.opened_at is None:
            return 0.0
        return max(0.0, self.reset_seconds - (self._clock() - self.opened_at))

    def success(self) -> list[T]:
        """Record a success; returns the files that were waiting and may now run."""
        self.failures = 0
        self.trial_running = False
        if self.state != "closed":
            self.state = "closed"
            self.opened_at = self.opened_wall = None
        released = list(self.waiting)
        self.waiting.clear()
        return released

    def failure(self) -> bool:
        """Record a failure of the rule's tool. True when this opened the breaker."""
        self.failures += 1
        was = self.state
        self.trial_running = False
        if was == "half-open" or (was == "closed" and self.failures >= self.threshold):
            self.state = "open"
            self.opened_at = self._clock()
            self.opened_wall = time.time()
            return True
        return False

    def neutral(self) -> None:
        """The trial ended without saying anything about the tool (e.g. the file was bad)."""
        self.trial_running = False
