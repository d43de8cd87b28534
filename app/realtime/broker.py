"""Publish/subscribe between processes. Redis pub/sub is at-most-once: it wakes and carries
payloads, and PostgreSQL stays the only copy that matters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app import metrics

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes], Awaitable[None]]


class RedisBroker:
    """One pub/sub connection per process; re-subscribes everything after a reconnect.

    Subscribes and unsubscribes go to Redis one at a time, in the order they are called, and
    only they (and the resubscribe after a reconnect) change what Redis has: a resubscribe
    from a snapshot racing an unsubscribe once left a channel subscribed that nobody listened
    to (tests/test_broker.py)."""

    def __init__(self, redis: Redis, handler: Handler, on_reconnect: Callable[[], None]) -> None:
        self._redis = redis
        self._pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self._handler = handler
        self._on_reconnect = on_reconnect
        self._channels: set[str] = set()
        self._lock = asyncio.Lock()
        self._resubscribe = False  # set when Redis lost (or never got) our subscriptions
        self._task: asyncio.Task[None] | None = None

    async def publish(self, channel: str, payload: bytes) -> None:
        await self._redis.publish(channel, payload)

    async def subscribe(self, *channels: str) -> None:
        async with self._lock:
            self._channels.update(channels)
            try:
                await self._pubsub.subscribe(*channels)
            except (RedisError, OSError):
                metrics.DEPENDENCY_ERRORS.labels(dependency="redis", component="broker").inc()
                self._resubscribe = True  # the reader subscribes every known channel when Redis is back

    async def unsubscribe(self, *channels: str) -> None:
        async with self._lock:
            self._channels.difference_update(channels)
            try:
                await self._pubsub.unsubscribe(*channels)
            except (RedisError, OSError):
                metrics.DEPENDENCY_ERRORS.labels(dependency="redis", component="broker").inc()

    def start(self) -> None:
        self._task = asyncio.create_task(self._read_loop(), name="broker-reader")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.aclose()

    async def _subscribe_all(self) -> None:
        async with self._lock:
            self._resubscribe = False
            if self._channels:
                await self._pubsub.subscribe(*self._channels)

    async def _read_loop(self) -> None:
        backoff = 0.05
        while True:
            try:
                if self._resubscribe:
                    await self._subscribe_all()
                if self._pubsub.connection is None:  # nothing subscribed on this connection yet
                    await asyncio.sleep(0.05)
                    continue
                message = await self._pubsub.get_message(timeout=1.0)
                backoff = 0.05
                if message is None or message["type"] != "message":
                    continue
                channel = message["channel"]
                await self._handler(channel.decode() if isinstance(channel, bytes) else channel, message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                metrics.DEPENDENCY_ERRORS.labels(dependency="redis", component="broker").inc()
                log.warning("pub/sub connection lost; reconnecting", extra={"error": str(exc)})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                async with self._lock:
                    with contextlib.suppress(RedisError, OSError):
                        await self._pubsub.reset()
                    self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                    self._resubscribe = True
                # Whatever was published meanwhile is gone: let the node re-check from PostgreSQL.
                self._on_reconnect()
            except Exception:
                log.exception("pub/sub handler failed")
