"""Who is online, shared by every API instance through Redis.

Each connection holds an entry in a per-user sorted set scored by its expiry; heartbeats push
the expiry forward, so a dead instance's entries lapse by themselves.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from redis.asyncio import Redis

from app.realtime import keys
from app.storage import users as user_store

PRESENCE_TTL_FACTOR = 2.5  # heartbeat intervals a connection stays online without refresh


class PresenceService:
    def __init__(self, redis: Redis, *, heartbeat_interval: float) -> None:
        self._redis = redis
        self._ttl_ms = int(heartbeat_interval * PRESENCE_TTL_FACTOR * 1000)

    async def touch(self, *, user_id: int, connection_id: str) -> bool:
        """Mark the connection alive; True when the user was offline before."""
        key = keys.PRESENCE.format(user_id=user_id)
        now_ms = int(time.time() * 1000)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", now_ms)
            pipe.zcard(key)
            pipe.zadd(key, {connection_id: now_ms + self._ttl_ms})
            pipe.pexpire(key, self._ttl_ms)
            _, before, _, _ = await pipe.execute()
        return int(before) == 0

    async def refresh(self, connections: list[tuple[int, str]]) -> None:
        """Push every live connection's expiry forward in one round trip."""
        expiry = int(time.time() * 1000) + self._ttl_ms
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id, connection_id in connections:
                key = keys.PRESENCE.format(user_id=user_id)
                pipe.zadd(key, {connection_id: expiry})
                pipe.pexpire(key, self._ttl_ms)
            await pipe.execute()

    async def leave(self, *, user_id: int, connection_id: str) -> bool:
        """Drop the connection; True when the user is now offline (last_seen_at written)."""
        key = keys.PRESENCE.format(user_id=user_id)
        now_ms = int(time.time() * 1000)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrem(key, connection_id)
            pipe.zcount(key, now_ms, "+inf")
            _, remaining = await pipe.execute()
        offline = int(remaining) == 0
        if offline:
            await user_store.set_last_seen(user_id, datetime.now(timezone.utc))
        return offline

    async def online(self, user_ids: list[int]) -> dict[int, bool]:
        now_ms = int(time.time() * 1000)
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.zcount(keys.PRESENCE.format(user_id=user_id), now_ms, "+inf")
            counts = await pipe.execute()
        return {user_id: int(count) > 0 for user_id, count in zip(user_ids, counts)}
