"""systemd's notify protocol (`Type=notify`, `WatchdogSec=`), without libsystemd.

With `$NOTIFY_SOCKET` set, obtui sends (one datagram each, over a Unix socket; a name starting
with `@` is in the abstract namespace):

- `READY=1` once every bucket is watched and the start-up scan has queued its files,
- `STATUS=<the one-line status>` then, and whenever it changes (at most once a second),
- `WATCHDOG=1` every half of `$WATCHDOG_USEC` while the engine's loop runs,
- `STOPPING=1` when a graceful stop begins.

The variables are removed from the environment once read, so the commands rules run cannot
speak for obtui.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, MutableMapping

from obtui.api.snapshot import EngineSnapshot

log = logging.getLogger("obtui.hosting")

TICK = 0.25  # how often the snapshot is looked at
STATUS_MIN_SECONDS = 1.0


class Notifier:
    """Sends notify datagrams to one socket; never raises."""

    def __init__(self, address: str, watchdog_seconds: float | None = None) -> None:
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self.watchdog_seconds = watchdog_seconds  # how often to ping: half of WATCHDOG_USEC
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._warned = False
        self.ready = False
        self.stopping_sent = False

    @classmethod
    def from_env(cls, env: MutableMapping[str, str] | None = None) -> Notifier | None:
        """A Notifier for `$NOTIFY_SOCKET`, or None when obtui does not run under systemd's notify.

        Reads and removes NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from `env` (os.environ).
        """
        env = os.environ if env is None else env
        address = env.pop("NOTIFY_SOCKET", "")
        usec, pid = env.pop("WATCHDOG_USEC", ""), env.pop("WATCHDOG_PID", "")
        if not address or address[0] not in "/@":
            return None
        watchdog = None
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            watchdog = int(usec) / 2e6
        return cls(address, watchdog)

    def send(self, *fields: str) -> bool:
        """Send `fields` (`"READY=1"`, `"STATUS=..."`) in one datagram."""
        message = "\n".join(f.replace("\n", " ") for f in fields).encode("utf-8", "replace")
        try:
            self._sock.sendto(message, self.address)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("cannot notify systemd at %s: %s", self.address.replace("\0", "@"), exc)
            return False
        return True

    def stopping(self, status: str = "stopping") -> None:
        """`STOPPING=1` (once)."""
        if not self.stopping_sent:
            self.stopping_sent = True
            self.send("STOPPING=1", f"STATUS={status}")

    def close(self) -> None:
        self._sock.close()

    async def run(
        self, snapshot: Callable[[], EngineSnapshot], status: Callable[[EngineSnapshot], str]
    ) -> None:
        """READY, STATUS and WATCHDOG from the engine's snapshots until cancelled."""
        next_ping = time.monotonic()
        last_status, status_at = "", 0.0
        while True:
            now = time.monotonic()
            snap = snapshot()
            if self.watchdog_seconds and now >= next_ping and not self.stopping_sent:
                self.send("WATCHDOG=1")
                next_ping = now + self.watchdog_seconds
            if not self.ready and is_ready(snap):
                self.ready = True
                last_status, status_at = status(snap), now
                self.send("READY=1", f"STATUS={last_status}", f"MAINPID={os.getpid()}")
            elif self.ready and not self.stopping_sent and now - status_at >= STATUS_MIN_SECONDS:
                line = status(snap)
                if line != last_status:
                    last_status, status_at = line, now
                    self.send(f"STATUS={line}")
            await asyncio.sleep(TICK)


def is_ready(snap: EngineSnapshot) -> bool:
    """Running, every bucket watched (or known to be missing), and no start-up scan still queueing.

    The engine starts its watchers and their scans in one step before it publishes its first
    running snapshot, so an empty scan list there means the start-up scans are done."""
    return (
        snap.state in ("running", "paused")
        and snap.version > 0
        and all(b.state != "stopped" for b in snap.buckets)
        and not snap.scans
    )
