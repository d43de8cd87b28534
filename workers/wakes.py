"""Wake-ups for lingering delivery jobs: one pub/sub connection per worker process.

A delivery job that has drained its partition stays subscribed to that partition's channel
for a moment. A sender whose PUBLISH reaches a subscriber knows a job is there and enqueues
nothing (app/services/dispatch.py), so a message in a quiet system costs one PUBLISH, not an
arq job's start-up.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

from app import keys
from app.realtime.broker import RedisBroker


class PartitionWakes:
    def __init__(self, redis: Redis) -> None:
        self._channels = keys.Channels.of(redis)
        self._events: dict[int, asyncio.Event] = {}
        self._listeners: Counter[int] = Counter()
        self._broker = RedisBroker(redis, self._on_message, on_reconnect=self._wake_all)

    def start(self) -> None:
        self._broker.start()

    async def stop(self) -> None:
        await self._broker.stop()

    @asynccontextmanager
    async def listening(self, partition: int) -> AsyncIterator[asyncio.Event]:
        """Subscribed to the partition's channel inside the block; the event is set by each
        wake-up (and by a pub/sub reconnect, since wakes published meanwhile are gone)."""
        event = self._events.setdefault(partition, asyncio.Event())
        self._listeners[partition] += 1
        if self._listeners[partition] == 1:
            await self._broker.subscribe(self._channels.partition(partition))
        try:
            yield event
        finally:
            self._listeners[partition] -= 1
            if not self._listeners[partition]:
                del self._listeners[partition]
                self._events.pop(partition, None)
                await self._broker.unsubscribe(self._channels.partition(partition))

    async def _on_message(self, channel: str, data: bytes) -> None:
        partition = self._channels.partition_of(channel)
        event = None if partition is None else self._events.get(partition)
        if event is not None:
            event.set()

    def _wake_all(self) -> None:
        for event in self._events.values():
            event.set()
