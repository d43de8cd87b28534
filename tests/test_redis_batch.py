"""Batched Redis commands (app/redis_batch.py) against a real Redis, through their busiest
user, the sliding-window limiter: concurrent calls share one pipeline, so these check that
each is judged as if it had been alone, and that one call's failure stays its own."""

from __future__ import annotations

import asyncio
import socket

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from app.errors import RateLimited
from app.redis_batch import batcher
from app.services.ratelimit import SlidingWindowLimiter


async def test_concurrent_hits_on_one_key_allow_exactly_the_limit(redis) -> None:
    limiter = SlidingWindowLimiter(redis, limit=10, window_seconds=60)
    waits = await asyncio.gather(*(limiter.hit("rl:one") for _ in range(25)))
    assert sum(1 for wait in waits if wait == 0) == 10
    assert all(0 < wait <= 60 for wait in waits if wait)
    assert await redis.zcard("rl:one") == 10
    with pytest.raises(RateLimited):
        await limiter.enforce("rl:one", scope="send", message="slow down")


async def test_keys_of_one_batch_are_counted_apart(redis) -> None:
    limiter = SlidingWindowLimiter(redis, limit=3, window_seconds=60)
    keys = [f"rl:user:{n % 5}" for n in range(20)]  # 4 hits on each of 5 keys, interleaved
    waits = await asyncio.gather(*(limiter.hit(key) for key in keys))
    allowed: dict[str, int] = {}
    for key, wait in zip(keys, waits):
        allowed[key] = allowed.get(key, 0) + (wait == 0)
    assert allowed == {f"rl:user:{n}": 3 for n in range(5)}


async def test_a_redis_restarted_empty_needs_no_script_reload(redis) -> None:
    limiter = SlidingWindowLimiter(redis, limit=5, window_seconds=60)
    assert await limiter.hit("rl:flush") == 0
    await redis.script_flush()
    await redis.flushdb()
    waits = await asyncio.gather(*(limiter.hit("rl:flush") for _ in range(6)))
    assert waits == [0, 0, 0, 0, 0, pytest.approx(60, abs=1)]


async def test_one_bad_key_fails_only_its_own_call(redis) -> None:
    limiter = SlidingWindowLimiter(redis, limit=5, window_seconds=60)
    await redis.set("rl:not-a-zset", "x")
    results = await asyncio.gather(
        limiter.hit("rl:fine:1"),
        limiter.hit("rl:not-a-zset"),
        batcher(redis).call("GET", "rl:not-a-zset"),  # a plain command of the same pipeline
        limiter.hit("rl:fine:2"),
        return_exceptions=True,
    )
    assert results[0] == 0 and results[2] == b"x" and results[3] == 0
    assert isinstance(results[1], ResponseError)
    assert await redis.get("rl:not-a-zset") == b"x"


async def test_a_cancelled_hit_leaves_the_others_of_its_batch_answered(redis) -> None:
    limiter = SlidingWindowLimiter(redis, limit=5, window_seconds=60)
    tasks = [asyncio.create_task(limiter.hit(f"rl:c:{n}")) for n in range(4)]
    await asyncio.sleep(0)  # all four are queued in one batch
    tasks[1].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[1], asyncio.CancelledError)
    assert [results[0], results[2], results[3]] == [0, 0, 0]
    assert await limiter.hit("rl:c:0") == 0  # the batcher still serves later hits


async def test_redis_unreachable_fails_every_hit_of_the_batch_and_recovers(redis) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    dead = aioredis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    try:
        limiter = SlidingWindowLimiter(dead, limit=5, window_seconds=60)
        results = await asyncio.gather(*(limiter.hit(f"rl:d:{n}") for n in range(3)), return_exceptions=True)
        assert all(isinstance(result, (RedisConnectionError, OSError)) for result in results)
    finally:
        await dead.aclose()
    live = SlidingWindowLimiter(redis, limit=5, window_seconds=60)
    assert await asyncio.gather(*(live.hit("rl:d:0") for _ in range(2))) == [0, 0]


async def test_concurrent_calls_take_one_round_trip_at_a_time(backing) -> None:
    # Unbatched, 50 concurrent scripts would each take a pooled connection at once.
    client = aioredis.Redis.from_url(backing.redis_url)
    try:
        limiter = SlidingWindowLimiter(client, limit=100, window_seconds=60)
        assert await asyncio.gather(*(limiter.hit(f"rl:rt:{n}") for n in range(50))) == [0] * 50
        pool = client.connection_pool
        assert len(pool._available_connections) + len(pool._in_use_connections) == 1
    finally:
        await client.aclose()
