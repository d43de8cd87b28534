"""Partitioned delivery: four workers drain eight partitions at once, and every user's inbox
still counts 1, 2, 3 ... with each chat's messages in the chat's order, each exactly once."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict

import asyncpg
import httpx
import pytest

from tests.conftest import make_stack
from tests.support.checks import group_chat
from tests.support.clients import User, make_user, send

USERS = 30
CHATS = 200
SENDS_PER_CHAT = 5


@pytest.mark.timeout(300)
async def test_partitioned_delivery_four_workers_keep_every_inbox_gapless_and_ordered(backing, stacks):
    stack = await make_stack(
        stacks, backing, DELIVERY_PARTITIONS="8", RATE_LIMIT_MESSAGES="1000000", CHAT_RATE_LIMIT="1000000",
        DB_POOL_SIZE="5",  # five processes on one PostgreSQL shared with other test sessions
    )
    api = stack.add_api()
    workers = [stack.add_worker() for _ in range(4)]
    rng = random.Random(7)
    limits = httpx.Limits(max_connections=40)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=60, limits=limits) as http:
        users = list(await asyncio.gather(*(make_user(http) for _ in range(USERS))))
        # Chats of 2 to 6 members drawn from 30 users: every user is in dozens of chats, so
        # partitions share users and their inbox counters all the time.
        memberships: list[list[User]] = [rng.sample(users, rng.randint(2, 6)) for _ in range(CHATS)]
        chats = list(
            await asyncio.gather(*(group_chat(http, members[0], *members[1:]) for members in memberships))
        )

        async def sender(chat_id: int, members: list[User]) -> None:
            for k in range(SENDS_PER_CHAT):
                await send(http, rng.choice(members), chat_id, f"c{chat_id}-{k}")

        # Every chat's sends run at once: the chats' partitions fill concurrently.
        await asyncio.gather(*(sender(chat["id"], members) for chat, members in zip(chats, memberships)))

    conn = await asyncpg.connect(stack.database_url.replace("postgres://", "postgresql://", 1))
    try:
        deadline = time.monotonic() + 120
        while await conn.fetchval("SELECT count(*) FROM outbox") and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
        events = await conn.fetch(
            """SELECT e.user_id, e.inbox_seq, e.type, e.chat_id, e.message_id, m.seq
               FROM inbox_events e LEFT JOIN messages m ON m.id = e.message_id
               ORDER BY e.user_id, e.inbox_seq"""
        )
        counters = dict(await conn.fetch("SELECT id, inbox_seq FROM users"))
        stored = dict(await conn.fetch("SELECT chat_id, count(*) FROM messages GROUP BY chat_id"))
    finally:
        await conn.close()

    by_user: dict[int, list[asyncpg.Record]] = defaultdict(list)
    for event in events:
        by_user[event["user_id"]].append(event)
    assert set(by_user) == {u.id for u in users}
    for user_id, mine in by_user.items():
        # Gapless: 1..n, and the counter on the user row agrees.
        assert [e["inbox_seq"] for e in mine] == list(range(1, len(mine) + 1)), user_id
        assert counters[user_id] == len(mine)
        messages = [e for e in mine if e["type"] == "message"]
        # Nothing twice.
        assert len({e["message_id"] for e in messages}) == len(messages), user_id
        # Each chat's messages in the chat's seq order within this user's inbox.
        per_chat: dict[int, list[int]] = defaultdict(list)
        for e in messages:
            per_chat[e["chat_id"]].append(e["seq"])
        for chat_id, seqs in per_chat.items():
            assert seqs == sorted(seqs), (user_id, chat_id, seqs)
    # Every member got every message of each of their chats.
    for chat, members in zip(chats, memberships):
        assert stored[chat["id"]] == SENDS_PER_CHAT
        for member in members:
            got = [e for e in by_user[member.id] if e["chat_id"] == chat["id"] and e["type"] == "message"]
            assert [e["seq"] for e in got] == list(range(1, SENDS_PER_CHAT + 1)), (chat["id"], member.id)
    # The drains really were spread: more than one worker turned records into events.
    async with httpx.AsyncClient(timeout=10) as client:
        batches = [_batches((await client.get(f"{w.base_url}/metrics")).text) for w in workers]
    assert sum(1 for n in batches if n > 0) >= 2, batches
    for worker in workers:
        assert worker.alive()
        log = worker.log_path.read_text(errors="replace")
        for bad in ("deadlock", "could not serialize", "Traceback"):
            assert bad not in log, worker.log_tail(60)


def _batches(metrics_text: str) -> float:
    for line in metrics_text.splitlines():
        if line.startswith("messenger_delivery_batch_size_count"):
            return float(line.split()[-1])
    return 0.0
