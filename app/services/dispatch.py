"""After-commit hand-off to the delivery workers.

The outbox row is already committed when this runs, so a failure here only delays delivery
until the retry sweep; it never fails the request that stored the change.
"""

from __future__ import annotations

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
        await redis.publish(keys.WORKER_WAKE_CHANNEL, b"1")
    except (RedisError, OSError) as exc:
        metrics.DEPENDENCY_ERRORS.labels(dependency="redis", component="dispatch").inc()
        log.warning("delivery enqueue failed; the retry sweep will deliver", extra={"error": str(exc)})


class Dispatcher:
    """What services call after a commit that recorded outbox rows."""

    def __init__(self, redis: ArqRedis) -> None:
        self._redis = redis

    async def after_commit(self) -> None:
        """Call only after the transaction that wrote outbox rows committed."""
        await enqueue_delivery(self._redis)
