"""Cluster errors with messages for the user."""

from __future__ import annotations


class ClusterError(Exception):
    """Cluster mode cannot work as configured (no redis-py, bad URL, Redis unreachable)."""


class LeaseLost(Exception):
    """This host no longer owns the file (paused or cut off past its lease): another host took
    it, so this host's result is discarded and nothing is recorded, locally or in Redis."""

    def __init__(self, job_key: str, why: str = "lease lost") -> None:
        super().__init__(f"{job_key}: {why}; the outcome is left to the host that took it over")
        self.job_key = job_key
