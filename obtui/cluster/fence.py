"""Group commit for the fenced FINISH: outcomes asked for while a FINISH script is on its way to
Redis go together in the next one, each still checked against its own lease.

A batch of notes finishes in one script already; this matters for the files whose outcomes come
one by one (a move or delete after the record, a result file, a failure, a quick command): with
`appendfsync always` each script is a write Redis syncs to disk, and each round trip costs the
host's loop. The first outcome goes at once (no timer, so a single drop waits for nobody).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from obtui.cluster.seams import Held, finish_many

if TYPE_CHECKING:
    from obtui.cluster.node import ClusterNode

Item = tuple[Held, str, dict[str, Any]]


class FinishGroup:
    """`await group.finish(items)`: per item None when committed, else why it was refused."""

    def __init__(self, node: ClusterNode) -> None:
        self._node = node
        self._waiting: list[tuple[list[Item], asyncio.Future[list[str | None]]]] = []
        self._task: asyncio.Task[None] | None = None

    async def finish(self, items: list[Item]) -> list[str | None]:
        if not items:
            return []
        fut: asyncio.Future[list[str | None]] = asyncio.get_running_loop().create_future()
        self._waiting.append((items, fut))
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._drain())
        return await fut

    async def _drain(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting, []
            group = [(items, fut) for items, fut in group if not fut.done()]  # cancelled: not sent
            if not group:
                continue
            try:
                answers = await finish_many(self._node, [item for items, _ in group for item in items])
            except asyncio.CancelledError:
                for _, fut in group:
                    fut.cancel()
                raise
            except Exception as exc:  # each caller hears of it, as if it had called alone
                for _, fut in group:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            at = 0
            for items, fut in group:
                if not fut.done():
                    fut.set_result(answers[at : at + len(items)])
                at += len(items)

    async def close(self) -> None:
        """Stop sending (the host is stopping): what was not sent is handed back with the rest."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait([self._task], timeout=1.0)
