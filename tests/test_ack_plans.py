"""The ack path reads what its batch names, however large the tables: every statement it sends
reaches inbox_events, messages and chat_members through an index. A hash join of an unnest()
to a sequential scan made each ack batch cost the size of the database (bench row 4: 40 ms a
batch); the plans are checked here, the time in `make bench`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from app.storage import receipts as receipt_store

MEMBERS = 1000
MESSAGES = 20_000
OTHER_CHATS = 10
LARGE_TABLES = ("inbox_events", "messages", "chat_members")


async def _seed_group(pg: asyncpg.Connection) -> None:
    """One group of MEMBERS users (ids 1..MEMBERS), MESSAGES messages from seven of them, and
    user 2's inbox holding every message; the same users in OTHER_CHATS more groups, so that
    reading one chat's members is a small part of chat_members."""
    await pg.execute(
        """INSERT INTO users (id, username, email, password_hash, is_active, created_at, inbox_seq)
           SELECT g, 'plan' || g, 'plan' || g || '@example.com', 'x', TRUE, now(), 0 FROM generate_series(1, $1) g""",
        MEMBERS,
    )
    await pg.execute(
        """INSERT INTO chats (id, type, title, created_at, last_seq, last_activity_at)
           SELECT c, 'group', 'g', now(), CASE WHEN c = 1 THEN $1 ELSE 0 END, now() FROM generate_series(1, $2) c""",
        MESSAGES,
        1 + OTHER_CHATS,
    )
    await pg.execute(
        """INSERT INTO chat_members (role, joined_at, read_seq, delivered_seq, chat_id, user_id)
           SELECT 'member', now(), 0, CASE WHEN c = 1 THEN $1 - 10 ELSE 0 END, c, g
           FROM generate_series(1, $2) c, generate_series(1, $3) g""",
        MESSAGES,
        1 + OTHER_CHATS,
        MEMBERS,
    )
    await pg.execute(
        """INSERT INTO messages (seq, content, created_at, is_deleted, chat_id, sender_id)
           SELECT s, 'hello', now(), FALSE, 1, 1 + s % 7 FROM generate_series(1, $1) s""",
        MESSAGES,
    )
    await pg.execute(
        """INSERT INTO inbox_events (user_id, inbox_seq, type, chat_id, message_id, created_at, committed_at)
           SELECT 2, m.seq, 'message', 1, m.id, now(), 0 FROM messages m"""
    )
    await pg.execute("ANALYZE users, chats, chat_members, messages, inbox_events")


async def test_ack_batch_statements_read_through_indexes(pg: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    await _seed_group(pg)
    sent: list[tuple[str, tuple[Any, ...]]] = []

    async def capture(sql: str, *args: Any, conn: Any = None) -> list[Any]:
        sent.append((sql, args))
        return []

    monkeypatch.setattr(receipt_store, "fetch", capture)
    monkeypatch.setattr(receipt_store, "execute", capture)
    up_to = MESSAGES
    await receipt_store.delivered_ranges([(2, up_to - 5, up_to)])
    await receipt_store.advance_delivered([(1, 2, up_to)], conn=None)
    moved = [{"chat_id": 1, "user_id": 2, "old": up_to - 10, "seq": up_to, "at": datetime.now(UTC)}]
    await receipt_store.announce_delivered(moved, max_group=100, conn=None)

    assert len(sent) == 4  # the range read, the mark lock, the mark move, the stamping
    for sql, args in sent:
        plan = "\n".join(row[0] for row in await pg.fetch("EXPLAIN " + sql, *args))
        scanned = [table for table in LARGE_TABLES if f"Seq Scan on {table}" in plan]
        assert not scanned, f"{sql}\n{plan}"
