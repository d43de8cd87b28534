"""An account erasure whose worker is killed (SIGKILL) mid-way completes once a worker is back:
the erasing transaction wiped every message and left `deleted_at` set, and the `erase_sweep`
cron job resumes the rest of the wipe, here a large inbox (the killed run's lease lapses in
10 s; its arq job stays blocked by its in-progress key)."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx

from tests.conftest import Backing, make_stack
from tests.support.clients import PASSWORD, direct_chat, make_user
from tests.support.databases import asyncpg_url

MESSAGES = 3000


async def wiped(conn: asyncpg.Connection, user_id: int) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM messages WHERE sender_id = $1 AND is_deleted", user_id))


async def inbox_left(conn: asyncpg.Connection, user_id: int) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM inbox_events WHERE user_id = $1", user_id))


async def test_erasure_killed_mid_way_completes_when_the_worker_returns(backing: Backing, stacks: list) -> None:  # type: ignore[type-arg]
    # Small batches, so the wipe takes many transactions and the kill lands inside it.
    stack = await make_stack(stacks, backing, ERASE_BATCH_SIZE="5")
    api = await asyncio.to_thread(stack.add_api)
    worker = await asyncio.to_thread(stack.add_worker)
    conn = await asyncpg.connect(asyncpg_url(stack.database_url))
    try:
        async with httpx.AsyncClient(base_url=api.base_url, timeout=15.0) as http:
            alice, bob = await make_user(http), await make_user(http)
            chat = await direct_chat(http, alice, bob)
            await conn.execute(
                """INSERT INTO messages (chat_id, seq, sender_id, content, created_at, is_deleted)
                   SELECT $1::bigint, g, CASE WHEN g % 10 = 0 THEN $3::bigint ELSE $2::bigint END, 'words ' || g, now(), FALSE
                   FROM generate_series(1, $4::int) AS g""",
                chat["id"], alice.id, bob.id, MESSAGES,
            )  # fmt: skip
            await conn.execute("UPDATE chats SET last_seq = $2 WHERE id = $1", chat["id"], MESSAGES)
            # A large inbox (the rows stand for events; what they say does not matter here).
            await conn.execute(
                """INSERT INTO inbox_events (user_id, inbox_seq, type, chat_id, created_at, committed_at)
                   SELECT $1::bigint, 1000 + g, 'message', $2::bigint, now(), 0 FROM generate_series(1, $3::int) AS g""",
                alice.id, chat["id"], MESSAGES,
            )  # fmt: skip
            alice_sent = MESSAGES - MESSAGES // 10
            r = await http.request("DELETE", "/users/me", json={"password": PASSWORD}, headers=alice.headers)
            assert r.status_code == 204, r.text
            assert await wiped(conn, alice.id) == alice_sent  # the words went with the 204

            # Kill the worker once the inbox's removal is under way, before it ends.
            deadline = time.monotonic() + 30
            while not 0 < (left := await inbox_left(conn, alice.id)) < MESSAGES:
                assert time.monotonic() < deadline and left > 0, f"wipe not caught mid-way: {left} left"
                await asyncio.sleep(0.005)
            worker.kill()
            await asyncio.sleep(0.5)  # a statement the worker sent before it died still completes in PostgreSQL
            at_kill = await inbox_left(conn, alice.id)
            assert at_kill > 0, "the wipe finished before the kill"
            await asyncio.sleep(1.0)
            assert await inbox_left(conn, alice.id) == at_kill  # nothing goes on without a worker
            assert await conn.fetchval("SELECT erased_at FROM users WHERE id = $1", alice.id) is None

            started = time.monotonic()
            await asyncio.to_thread(stack.add_worker)
            while await conn.fetchval("SELECT erased_at FROM users WHERE id = $1", alice.id) is None:
                assert time.monotonic() - started < 60, f"erasure not resumed: {await inbox_left(conn, alice.id)} left"
                await asyncio.sleep(0.2)
            print(f"\nerasure: killed with {at_kill}/{MESSAGES} inbox rows left, completed {time.monotonic() - started:.1f}s after restart")
            assert await inbox_left(conn, alice.id) == 0
            assert await conn.fetchval("SELECT count(*) FROM messages WHERE sender_id = $1 AND content <> ''", alice.id) == 0
            seqs = [row["seq"] for row in await conn.fetch("SELECT seq FROM messages WHERE chat_id = $1 ORDER BY seq", chat["id"])]
            assert seqs == list(range(1, MESSAGES + 1))
            # Bob's own messages are untouched, and he still reads the chat.
            assert await conn.fetchval("SELECT count(*) FROM messages WHERE sender_id = $1 AND NOT is_deleted", bob.id) == MESSAGES // 10
            r = await http.get("/messages", params={"chat_id": chat["id"], "limit": 10}, headers=bob.headers)
            assert r.status_code == 200 and [m["seq"] for m in r.json()["items"]] == list(range(MESSAGES - 9, MESSAGES + 1))
    finally:
        await conn.close()
