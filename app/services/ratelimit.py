"""Sliding-window rate limits in Redis, shared by every API instance."""

from __future__ import annotations

import time
import uuid

from redis.asyncio import Redis

from app import keys, metrics
from app.errors import RateLimited
from app.redis_batch import batcher

# Sliding log: every accepted hit is a member scored by its time, so the limit counts each
# send exactly rather than in whole-second buckets. Returns 0 when accepted, else the
# milliseconds until the oldest hit leaves the window.
_SLIDING_WINDOW = """
local key, now, window, limit, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window)
  return 0
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""


class SlidingWindowLimiter:
    def __init__(self, redis: Redis, *, limit: int, window_seconds: float) -> None:
        # Every send makes a hit: concurrent ones share a pipeline (app/redis_batch.py).
        self._batch = batcher(redis)
        self.limit = limit
        self.window_ms = int(window_seconds * 1000)

    async def hit(self, key: str) -> float:
        """Record one hit; 0 when allowed, else seconds until one is allowed again."""
        now_ms = int(time.time() * 1000)
        wait_ms = await self._batch.eval(
            _SLIDING_WINDOW, [key], [now_ms, self.window_ms, self.limit, f"{now_ms}:{uuid.uuid4().hex[:8]}"]
        )
        return int(wait_ms) / 1000.0

    async def enforce(self, key: str, *, scope: str, message: str) -> None:
        """Record one hit, or raise RateLimited (counted under `scope`) when over the limit."""
        wait = await self.hit(key)
        if wait > 0:
            metrics.RATE_LIMITED.labels(scope=scope).inc()
            raise RateLimited(wait, message)


class SendLimits:
    """The one budget of sends, edits, deletes and reactions per user: RATE_LIMIT_MESSAGES for
    people, BOT_RATE_LIMIT for bots (the caller's token says which), in the same window."""

    def __init__(self, people: SlidingWindowLimiter, bots: SlidingWindowLimiter) -> None:
        self._people = people
        self._bots = bots

    async def hit(self, user_id: int, *, bot: bool) -> tuple[float, str]:
        """(seconds until allowed, 0 when allowed now; the limit's metrics scope)."""
        key = keys.SEND_RATE.format(user_id=user_id)
        if bot:
            return await self._bots.hit(key), "bot_send"
        return await self._people.hit(key), "send"

    async def enforce(self, user_id: int, *, bot: bool, message: str) -> None:
        wait, scope = await self.hit(user_id, bot=bot)
        if wait > 0:
            metrics.RATE_LIMITED.labels(scope=scope).inc()
            raise RateLimited(wait, message)


# A member's next send in a slow-mode chat: 0 when this one may go (the key now holds the
# wait), else the milliseconds left.
_SLOW_MODE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
return math.max(1, redis.call('PTTL', KEYS[1]))
"""


class SlowMode:
    """A chat's slow mode: a member below admin sends at most once per `seconds`, on every
    instance together. Consulted only when the send's statement refused for slow mode, so
    chats without it pay nothing (app/services/messages.py)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def enforce(self, *, chat_id: int, user_id: int, seconds: int) -> None:
        key = keys.SLOW_MODE.format(chat_id=chat_id, user_id=user_id)
        wait_ms = int(await self._redis.eval(_SLOW_MODE, 1, key, str(seconds * 1000)))  # type: ignore[misc]
        if wait_ms > 0:
            metrics.RATE_LIMITED.labels(scope="slow_mode").inc()
            raise RateLimited(wait_ms / 1000.0, f"This chat is in slow mode: one message per {seconds} s.")
