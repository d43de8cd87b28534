"""After-commit hand-off to the delivery workers.

The outbox row is already committed when this runs, so a failure here only delays delivery
until the retry sweep; it never fails the request that stored the change.
"""

from __future__ import annotations

import asyncio
import logging

from arq.connections import ArqRedis
from redis.exceptions import RedisError

from app import metrics
from app.realtime import keys

log = logging.getLogger(__name__)

DELIVER_JOB = "deliver"


async def enqueue_delivery(redis: ArqRedis) -> None:
    """Enqueue the delivery job for the current epoch and wake an idle worker.

    Every delivery job first bumps the epoch, then drains the whole outbox. A job id per
    epoch collapses a burst into one job, and a change committed before we read the epoch is
    always seen by that epoch's job (its drain starts after the bump), so no wake-up is lost.
    """
    try:
        epoch = int(await redis.get(keys.DELIVERY_EPOCH) or 0)
        await redis.enqueue_job(DELIVER_JOB, _job_id=f"{DELIVER_JOB}:{epoch}")
        await redis.publish(keys.Channels.of(redis).wake, b"1")
    except (RedisError, OSError) as exc:
        metrics.DEPENDENCY_ERRORS.labels(dependency="redis", component="dispatch").inc()
        log.warning("delivery enqueue failed; the retry sweep will deliver", extra={"error": str(exc)})


class Dispatcher:
    """What services call after a commit that recorded outbox rows.

    Hand-offs are coalesced per process: while one enqueue is on its way, later commits only
    ask for one more round after it, which reads the epoch after all of them committed. At
    high send rates this turns one enqueue per message into a handful per second, and the
    request that committed never waits on Redis.
    """

    def __init__(self, redis: ArqRedis) -> None:
        self._redis = redis
        self._task: asyncio.Task[None] | None = None
        self._again = False

    async def after_commit(self) -> None:
        """Call only after the transaction that wrote outbox rows committed."""
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            self._again = False
            await enqueue_delivery(self._redis)
            if not self._again:
                return

    async def drain(self) -> None:
        """Wait for a hand-off in flight (shutdown, tests)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
