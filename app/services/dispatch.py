"""After-commit hand-off to the delivery workers.

The outbox row is already committed when this runs, so a failure here only delays delivery
until the retry sweep; it never fails the request that stored the change.
"""

from __future__ import annotations

import asyncio
import logging

from arq.connections import ArqRedis
from redis.exceptions import RedisError

from app import keys, metrics

log = logging.getLogger(__name__)


def partition_of(chat_id: int | None, partitions: int) -> int:
    """The outbox partition of a chat's records (storage/outbox.py's take_batch filters the
    same way): a chat's records all go through one partition, so they stay in order."""
    return (chat_id or 0) % partitions


async def enqueue_delivery(redis: ArqRedis, partitions: list[int]) -> None:
    """Wake each partition's delivery job, or enqueue one where none is listening.

    A job lingering on its partition hears the PUBLISH (PUBLISH counts who heard it), and
    drains again; it unsubscribes before its last drain, so a change committed before a PUBLISH
    it heard is always drained. Elsewhere a job is enqueued for the partition's current epoch:
    a job first bumps the epoch, then drains, so a job id per (partition, epoch) collapses a
    burst into one job and a change committed before we read the epoch is always seen by that
    epoch's job.
    """
    channels = keys.Channels.of(redis)
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for partition in partitions:
                pipe.publish(channels.partition(partition), b"1")
            for partition in partitions:
                pipe.get(keys.DELIVERY_EPOCH.format(partition=partition))
            results = await pipe.execute()
        heard, epochs = results[: len(partitions)], results[len(partitions) :]
        unheard = [(p, int(e or 0)) for p, h, e in zip(partitions, heard, epochs) if not h]
        for partition, epoch in unheard:
            await redis.enqueue_job(keys.DELIVER_JOB, partition, _job_id=f"{keys.DELIVER_JOB}:{partition}:{epoch}")
        if unheard:
            await redis.publish(channels.wake, b"1")
    except (RedisError, OSError) as exc:
        metrics.DEPENDENCY_ERRORS.labels(dependency="redis", component="dispatch").inc()
        log.warning("delivery enqueue failed; the retry sweep will deliver", extra={"error": str(exc)})


class Dispatcher:
    """What services call after a commit that recorded outbox rows.

    Hand-offs are coalesced per process: while one enqueue is on its way, later commits only
    add their partitions to the next round, which reads the epochs after all of them
    committed. At high send rates this turns one enqueue per message into a handful per
    second, and the request that committed never waits on Redis.
    """

    def __init__(self, redis: ArqRedis, partitions: int) -> None:
        self._redis = redis
        self._partitions = partitions
        self._pending: set[int] = set()
        self._task: asyncio.Task[None] | None = None

    async def after_commit(self, *chat_ids: int) -> None:
        """Call only after the transaction that wrote outbox rows for these chats committed
        (no chat ids: rows of any partition)."""
        if chat_ids:
            self._pending.update(partition_of(chat_id, self._partitions) for chat_id in chat_ids)
        else:
            self._pending.update(range(self._partitions))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self._pending:
            partitions, self._pending = sorted(self._pending), set()
            await enqueue_delivery(self._redis, partitions)

    async def drain(self) -> None:
        """Wait for a hand-off in flight (app/server.py calls it at shutdown, before Redis
        closes)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
