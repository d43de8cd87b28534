"""Scheduled messages (POST /messages with send_at): kept here until their moment, then
sent by the `send_scheduled` job in the transaction that deletes them, so each is sent once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import Row, execute, fetch, fetchrow, fetchval

COLUMNS = "id, chat_id, author_id, content, reply_to_id, attachment_ids, client_msg_id, send_at, created_at"


async def insert(
    *, chat_id: int, author_id: int, content: str, reply_to_id: int | None, attachment_ids: list[int],
    client_msg_id: str | None, send_at: datetime, conn: BaseDBAsyncClient,
) -> Row | None:  # fmt: skip
    """None when the author already scheduled this client_msg_id."""
    return await fetchrow(
        f"""INSERT INTO scheduled_messages (chat_id, author_id, content, reply_to_id, attachment_ids, client_msg_id, send_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING {COLUMNS}""",
        chat_id,
        author_id,
        content,
        reply_to_id,
        attachment_ids,
        client_msg_id,
        send_at,
        conn=conn,
    )


async def by_client_id(author_id: int, client_msg_id: str) -> Row | None:
    return await fetchrow(
        f"SELECT {COLUMNS} FROM scheduled_messages WHERE author_id = $1 AND client_msg_id = $2", author_id, client_msg_id
    )


async def own(author_id: int, scheduled_id: int, conn: BaseDBAsyncClient | None = None) -> Row | None:
    """The author's pending scheduled message, locked when `conn` is a transaction."""
    lock = " FOR UPDATE" if conn is not None else ""
    return await fetchrow(
        f"SELECT {COLUMNS} FROM scheduled_messages WHERE id = $1 AND author_id = $2{lock}", scheduled_id, author_id, conn=conn
    )


async def update(scheduled_id: int, changes: dict[str, Any], conn: BaseDBAsyncClient) -> Row:
    names = [name for name in ("content", "send_at") if name in changes]
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=2))
    row = await fetchrow(
        f"UPDATE scheduled_messages SET {assignments} WHERE id = $1 RETURNING {COLUMNS}",
        scheduled_id,
        *[changes[n] for n in names],
        conn=conn,
    )
    assert row is not None
    return row


async def delete(scheduled_id: int, conn: BaseDBAsyncClient) -> None:
    await execute("DELETE FROM scheduled_messages WHERE id = $1", scheduled_id, conn=conn)


async def page(author_id: int, *, chat_id: int | None, after: tuple[datetime, int] | None, limit: int) -> list[Row]:
    """The author's pending ones, soonest first."""
    return await fetch(
        f"""SELECT {COLUMNS} FROM scheduled_messages
            WHERE author_id = $1 AND ($2::bigint IS NULL OR chat_id = $2)
              AND ($3::timestamptz IS NULL OR (send_at, id) > ($3, $4::bigint))
            ORDER BY send_at, id LIMIT $5""",
        author_id,
        chat_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def take_due(limit: int, conn: BaseDBAsyncClient) -> list[Row]:
    """Up to `limit` due scheduled messages, soonest first, deleted in the caller's transaction
    (their sends commit with the deletion, or nothing does); rows other senders hold are
    skipped."""
    return await fetch(
        f"""WITH due AS (
                DELETE FROM scheduled_messages WHERE id IN (
                    SELECT id FROM scheduled_messages WHERE send_at <= now() ORDER BY send_at, id
                    FOR UPDATE SKIP LOCKED LIMIT $1)
                RETURNING {COLUMNS})
            SELECT * FROM due ORDER BY send_at, id""",
        limit,
        conn=conn,
    )


async def seconds_to_next() -> float | None:
    """Seconds until the soonest scheduled message is due (0 when one is), or None when there
    is none (through the send_at index)."""
    value = await fetchval(
        """SELECT greatest(extract(epoch FROM send_at - now()), 0)::float8 FROM scheduled_messages
           ORDER BY send_at LIMIT 1"""
    )
    return float(value) if value is not None else None
