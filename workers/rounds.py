"""Drain rounds: the delivery jobs of one worker process drain their partitions together.

Each partition has its own delivery job (workers/jobs.py `deliver`), but a drain transaction
costs about the same fixed round trips whether it carries one record or a hundred. So a job
asks for its partition here: when no round is out, a round starts at once with just that
partition (a quiet system waits for nothing); while one is out, every partition asking joins
the next round, which takes all of their records in one transaction and one publish. Under
load that turns one small transaction per partition per wake into one larger one per round.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from app.services.delivery import Delivered

Drain = Callable[[list[int]], Awaitable[Delivered]]


class DrainRounds:
    def __init__(self, drain: Drain) -> None:
        self._drain = drain  # drains and publishes the partitions given, in one transaction
        self._next: dict[int, asyncio.Future[tuple[int, bool]]] = {}
        self._runner: asyncio.Task[None] | None = None

    async def drain(self, partition: int) -> tuple[int, bool]:
        """(records of this partition delivered, whether the round emptied its partitions)."""
        future = self._next.get(partition)
        if future is None:
            future = self._next[partition] = asyncio.get_running_loop().create_future()
            # Read here, so a failure whose every waiter was cancelled is not logged at exit.
            future.add_done_callback(lambda done: done.cancelled() or done.exception())
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        # A cancelled job (timeout, shutdown) leaves the round to finish for the others.
        return await asyncio.shield(future)

    async def _run(self) -> None:
        while self._next:
            waiting, self._next = self._next, {}
            try:
                delivered = await self._drain(sorted(waiting))
            except BaseException as exc:
                for future in waiting.values():
                    future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for partition, future in waiting.items():
                future.set_result((delivered.by_partition[partition], delivered.complete))

    async def close(self) -> None:
        """Let a round in flight commit before the database closes (worker shutdown)."""
        if self._runner is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._runner), 5.0)
