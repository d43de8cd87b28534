"""Who is online, shared by every API instance through Redis.

Each connection holds an entry in a per-user sorted set scored by its expiry; heartbeats push
the expiry forward, so a dead instance's entries lapse by themselves. The same set (with the
handshakes under way) caps the sockets a user may hold across every instance.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from redis.asyncio import Redis

from app import keys
from app.redis_batch import batcher
from app.storage import users as user_store

PRESENCE_TTL_FACTOR = 2.5  # heartbeat intervals a connection stays online without refresh
SLOT_HOLD_MS = 30_000  # a handshake's reserved socket slot lapses if it never attaches
TYPING_INTERVAL_MS = 1000  # typing reaches a chat at most once a second per user

# One atomic step per handshake, so 20 handshakes at once cannot all pass a count taken
# before any of them was added: drop lapsed entries (sockets of killed instances, handshakes
# that died), count live sockets plus handshakes under way, and take a slot if one is free.
# Returns 0 when taken, else the milliseconds until the soonest entry would lapse.
_RESERVE = """
local live, pending = KEYS[1], KEYS[2]
local now, hold, limit, member = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', live, '-inf', now)
redis.call('ZREMRANGEBYSCORE', pending, '-inf', now)
if redis.call('ZCARD', live) + redis.call('ZCARD', pending) >= limit then
  local soonest = nil
  for _, key in ipairs({live, pending}) do
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if first[2] and (soonest == nil or tonumber(first[2]) < soonest) then soonest = tonumber(first[2]) end
  end
  return math.max(1, (soonest or now) - now)
end
redis.call('ZADD', pending, now + hold, member)
redis.call('PEXPIRE', pending, hold)
return 0
"""

# Mark a connection alive and turn its reserved slot into a live entry; the number of other
# live connections before it (0: the user just came online).
_TOUCH = """
local live, pending = KEYS[1], KEYS[2]
local now, ttl, member = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
redis.call('ZREMRANGEBYSCORE', live, '-inf', now)
local before = redis.call('ZCARD', live)
if redis.call('ZSCORE', live, member) then before = before - 1 end
redis.call('ZADD', live, now + ttl, member)
redis.call('PEXPIRE', live, ttl)
redis.call('ZREM', pending, member)
return before
"""


class PresenceService:
    def __init__(self, redis: Redis, *, heartbeat_interval: float) -> None:
        self._redis = redis
        self._ttl_ms = int(heartbeat_interval * PRESENCE_TTL_FACTOR * 1000)
        # A reconnect storm makes a reserve and a touch per socket: they share pipelines.
        self._batch = batcher(redis)

    async def reserve(self, *, user_id: int, connection_id: str, limit: int) -> float:
        """Hold one of the user's `limit` socket slots for a handshake under way, counted
        across every instance; 0 when held, else seconds until one may be free.

        The slot becomes the connection's presence entry at `touch`, and is given back by
        `release` (handshake failed) or `leave`; a slot nobody claims lapses by itself."""
        now_ms = int(time.time() * 1000)
        wait_ms = await self._batch.eval(
            _RESERVE,
            [keys.PRESENCE.format(user_id=user_id), keys.WS_PENDING.format(user_id=user_id)],
            [now_ms, SLOT_HOLD_MS, limit, connection_id],
        )
        return int(wait_ms) / 1000.0

    async def release(self, *, user_id: int, connection_id: str) -> None:
        """Give back a slot whose handshake did not complete."""
        await self._redis.zrem(keys.WS_PENDING.format(user_id=user_id), connection_id)

    async def touch(self, *, user_id: int, connection_id: str) -> bool:
        """Mark the connection alive; True when the user was offline before."""
        before = await self._batch.eval(
            _TOUCH,
            [keys.PRESENCE.format(user_id=user_id), keys.WS_PENDING.format(user_id=user_id)],
            [int(time.time() * 1000), self._ttl_ms, connection_id],
        )
        return int(before) == 0

    async def typing_allowed(self, *, user_id: int, chat_id: int) -> bool:
        """True at most once a second per (user, chat), whatever the number of sockets and
        instances the user types from."""
        key = keys.TYPING.format(user_id=user_id, chat_id=chat_id)
        return bool(await self._redis.set(key, b"1", nx=True, px=TYPING_INTERVAL_MS))

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
            pipe.zrem(keys.WS_PENDING.format(user_id=user_id), connection_id)
            pipe.zcount(key, now_ms, "+inf")
            _, _, remaining = await pipe.execute()
        offline = int(remaining) == 0
        if offline:
            await user_store.set_last_seen(user_id, datetime.now(UTC))
        return offline

    async def online(self, user_ids: list[int]) -> dict[int, bool]:
        now_ms = int(time.time() * 1000)
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.zcount(keys.PRESENCE.format(user_id=user_id), now_ms, "+inf")
            counts = await pipe.execute()
        return {user_id: int(count) > 0 for user_id, count in zip(user_ids, counts)}
