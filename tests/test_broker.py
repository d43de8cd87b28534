"""Pub/sub subscriptions against a real Redis: what Redis has subscribed is exactly what the
process listens to, however subscribes and unsubscribes interleave. A channel left subscribed
with nobody listening is worse than a lost message: a delivery wake-up PUBLISHed to it counts
as heard, so no delivery job is enqueued for that partition and its messages wait for the 2 s
retry sweep, for good (seen in make bench)."""

from __future__ import annotations

import asyncio
import random

import redis.asyncio as aioredis

from app.keys import Channels
from workers.wakes import PartitionWakes


async def test_no_partition_stays_subscribed_once_its_jobs_are_gone(backing) -> None:
    redis = aioredis.Redis.from_url(backing.redis_url)
    channels = Channels.of(redis)
    wakes = PartitionWakes(redis)
    wakes.start()
    rng = random.Random(7)

    async def job(partition: int) -> None:
        await asyncio.sleep(rng.random() * 0.02)
        async with wakes.listening(partition):
            await asyncio.sleep(rng.random() * 0.01)

    try:
        # Bursts from quiet: every partition idle, then jobs for several at once, as at the
        # start of a load; the reader's idle check and the jobs' (un)subscribes interleave.
        for _ in range(30):
            await asyncio.gather(*(job(rng.randrange(8)) for _ in range(12)))
            await asyncio.sleep(0.06)
        await asyncio.sleep(0.2)  # the reader has handled every confirmation
        names = [channels.partition(p) for p in range(8)]
        heard = dict(await redis.pubsub_numsub(*names))
        assert {name.decode(): count for name, count in heard.items() if count} == {}
    finally:
        await wakes.stop()
        await redis.aclose()
