"""Sliding-window rate limits in Redis, shared by every API instance."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from redis.asyncio import Redis

from app import metrics
from app.errors import RateLimited

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

_Hit = tuple[str, int, int, "asyncio.Future[int]"]


class _HitBatcher:
    """Hits on one limiter that arrive while a round trip is out go together in the next
    pipeline. A round trip costs the event loop
    about ten times the CPU of one more command in a pipeline, and under load every send
    makes one (make bench's profile had the API 6 % inside single hits). Redis runs a
    pipeline's scripts in order, so each hit is judged exactly as if it had been alone.
    EVAL rather than EVALSHA: a Redis restarted empty has no script cache, and a pipeline
    cannot load a script on the fly without one more round trip each time."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._pending: list[_Hit] = []
        self._task: asyncio.Task[None] | None = None

    async def hit(self, key: str, window_ms: int, limit: int) -> int:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((key, window_ms, limit, future))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._send(batch)
            finally:
                for *_, future in batch:
                    if not future.done():  # cancelled while the round trip was out
                        future.cancel()

    async def _send(self, batch: list[_Hit]) -> None:
        now_ms = int(time.time() * 1000)
        commands = [
            ("EVAL", _SLIDING_WINDOW, 1, key, now_ms, window_ms, limit, f"{now_ms}:{uuid.uuid4().hex[:8]}")
            for key, window_ms, limit, _ in batch
        ]
        results: list[Any]
        try:
            if len(commands) == 1:  # a quiet moment: a pipeline would only add its own cost
                results = [await self._redis.execute_command(*commands[0])]
            else:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for command in commands:
                        pipe.execute_command(*command)
                    results = await pipe.execute(raise_on_error=False)
        except Exception as exc:  # the connection: every hit of the batch shares its fate
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (*_, future), result in zip(batch, results):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(int(result))


class SlidingWindowLimiter:
    def __init__(self, redis: Redis, *, limit: int, window_seconds: float) -> None:
        self._batcher = _HitBatcher(redis)
        self.limit = limit
        self.window_ms = int(window_seconds * 1000)

    async def hit(self, key: str) -> float:
        """Record one hit; 0 when allowed, else seconds until one is allowed again."""
        return await self._batcher.hit(key, self.window_ms, self.limit) / 1000.0

    async def enforce(self, key: str, *, scope: str, message: str) -> None:
        """Record one hit, or raise RateLimited (counted under `scope`) when over the limit."""
        wait = await self.hit(key)
        if wait > 0:
            metrics.RATE_LIMITED.labels(scope=scope).inc()
            raise RateLimited(wait, message)
