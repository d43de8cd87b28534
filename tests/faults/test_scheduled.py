"""Scheduled messages under load and faults (contract: a scheduled message survives any restart,
kill -9 or Redis wipe and is sent once, never twice, within 2 s of send_at): 1,000 messages due
the same second, first with nothing going wrong, then with the worker SIGKILLed at the due
moment and Redis restarted empty. How late the last one is gets printed, not asserted (a
figure of speed; the README quotes it): the tests assert once, in order, never early."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from tests.conftest import Backing, make_stack
from tests.support.clients import direct_chat, make_user
from tests.support.databases import asyncpg_url
from tests.support.stack import Stack

COUNT = 1000


async def pair_on_a_stack(backing: Backing, stacks: list) -> tuple[Stack, asyncpg.Connection]:  # type: ignore[type-arg]
    """A stack with one API and one worker, and a direct chat of two users (ids 1 and 2)."""
    stack = await make_stack(stacks, backing)
    api = await asyncio.to_thread(stack.add_api)
    await asyncio.to_thread(stack.add_worker)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=15.0) as http:
        alice, bob = await make_user(http), await make_user(http)
        await direct_chat(http, alice, bob)
    return stack, await asyncpg.connect(asyncpg_url(stack.database_url))


async def schedule_many(conn: asyncpg.Connection, tag: str) -> datetime:
    """COUNT messages from user 1 in chat 1 due in 3 s, as POST /messages with send_at stores
    them (the REST path is tested in tests/test_scheduled.py); their send_at."""
    at = datetime.now(UTC) + timedelta(seconds=3)
    await conn.execute(
        """INSERT INTO scheduled_messages (chat_id, author_id, content, send_at)
           SELECT 1, 1, $1 || g, $2 FROM generate_series(1, $3::int) AS g""",
        tag, at, COUNT,
    )  # fmt: skip
    return at


async def sent(conn: asyncpg.Connection, tag: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT content, seq, created_at FROM messages WHERE content LIKE $1 || '%' ORDER BY seq", tag)


@pytest.mark.timeout(300)
async def test_a_thousand_due_the_same_second_are_each_sent_once(backing: Backing, stacks: list) -> None:  # type: ignore[type-arg]
    _, conn = await pair_on_a_stack(backing, stacks)
    try:
        at = await schedule_many(conn, "calm ")
        deadline = time.monotonic() + 30
        while len(rows := await sent(conn, "calm ")) < COUNT:
            assert time.monotonic() < deadline, f"only {len(rows)} sent"
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)
        rows = await sent(conn, "calm ")
        assert len(rows) == COUNT and len({r["content"] for r in rows}) == COUNT  # each once
        assert [r["seq"] for r in rows] == list(range(1, COUNT + 1))
        late = max(r["created_at"] for r in rows) - at
        print(f"\nscheduled: {COUNT} due at once, the last stored {late.total_seconds():.2f} s after send_at")
        assert min(r["created_at"] for r in rows) >= at  # never early
    finally:
        await conn.close()


@pytest.mark.timeout(300)
async def test_a_worker_killed_at_the_due_moment_and_a_redis_wipe_still_send_each_once(backing: Backing, stacks: list) -> None:  # type: ignore[type-arg]
    stack, conn = await pair_on_a_stack(backing, stacks)
    (worker,) = stack.workers
    try:
        await schedule_many(conn, "fault ")
        while not await sent(conn, "fault "):
            await asyncio.sleep(0.01)
        worker.kill()  # mid-way through the due second
        at_kill = len(await sent(conn, "fault "))
        await asyncio.to_thread(stack.redis.restart_empty, 0.5)
        await asyncio.to_thread(stack.add_worker)
        deadline = time.monotonic() + 60
        while len(rows := await sent(conn, "fault ")) < COUNT:
            assert time.monotonic() < deadline, f"only {len(rows)} sent"
            await asyncio.sleep(0.2)
        await asyncio.sleep(3)
        rows = await sent(conn, "fault ")
        print(f"\nscheduled under faults: {at_kill} sent before the kill, {COUNT} in all")
        assert len(rows) == COUNT and len({r["content"] for r in rows}) == COUNT
        assert [r["seq"] for r in rows] == list(range(1, COUNT + 1))
        assert await conn.fetchval("SELECT count(*) FROM scheduled_messages") == 0
    finally:
        await conn.close()
