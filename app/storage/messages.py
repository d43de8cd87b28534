from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from app.db import Row, fetch, fetchrow
from app.ids import possible_id


class DuplicateSend(Exception):
    """The (sender, client_msg_id) pair is stored already: a concurrent repeat won."""

MESSAGE_COLUMNS = (
    "m.id, m.chat_id, m.seq, m.sender_id, m.client_msg_id, m.content, m.created_at, m.edited_at,"
    " m.is_deleted, m.delivered_at, m.read_at"
)


async def by_client_id(sender_id: int, client_msg_id: str, conn: BaseDBAsyncClient | None = None) -> Row | None:
    return await fetchrow(
        f"SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.sender_id = $1 AND m.client_msg_id = $2",
        sender_id,
        client_msg_id,
        conn=conn,
    )


async def send_message(
    *, chat_id: int, sender_id: int, client_msg_id: str | None, content: str
) -> Row | None:
    """Store a message in one statement, committed on its own: the membership check, the
    next seq (under the chat row's lock, held only inside PostgreSQL for this statement), the
    message row and its outbox row. None when sender_id is not a member of chat_id.

    The outbox row names no recipients: the worker reads the members when it delivers, so a
    send to a large group writes no more than a send to a pair. A concurrent repeat of
    (sender_id, client_msg_id) raises DuplicateSend, and the whole statement (its seq
    included) is rolled back, so no seq gap can appear.
    """
    if not possible_id(chat_id, sender_id):
        return None
    try:
        return await fetchrow(
            f"""WITH c AS (
                  UPDATE chats SET last_seq = last_seq + 1, last_activity_at = now()
                  WHERE id = $1 AND EXISTS (SELECT 1 FROM chat_members WHERE chat_id = $1 AND user_id = $2)
                  RETURNING last_seq),
                m AS (
                  INSERT INTO messages (chat_id, seq, sender_id, client_msg_id, content, created_at, is_deleted)
                  SELECT $1, c.last_seq, $2, $3, $4, now(), FALSE FROM c RETURNING *),
                o AS (
                  INSERT INTO outbox (type, chat_id, payload, created_at)
                  SELECT 'message', $1, jsonb_build_object('message_id', m.id), m.created_at FROM m)
                SELECT {MESSAGE_COLUMNS} FROM m""",
            chat_id,
            sender_id,
            client_msg_id,
            content,
        )
    except IntegrityError as exc:
        raise DuplicateSend from exc


async def lock_message(message_id: int, conn: BaseDBAsyncClient) -> Row | None:
    if not possible_id(message_id):
        return None
    return await fetchrow(
        f"SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.id = $1 FOR UPDATE", message_id, conn=conn
    )


async def get_message(message_id: int) -> Row | None:
    if not possible_id(message_id):
        return None
    return await fetchrow(f"SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.id = $1", message_id)


async def get_messages(message_ids: list[int]) -> list[Row]:
    return await fetch(f"SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.id = ANY($1::bigint[])", message_ids)


async def update_content(message_id: int, content: str, conn: BaseDBAsyncClient) -> Row:
    row = await fetchrow(
        f"""UPDATE messages AS m SET content = $2, edited_at = now() WHERE m.id = $1
            RETURNING {MESSAGE_COLUMNS}""",
        message_id,
        content,
        conn=conn,
    )
    assert row is not None
    return row


async def soft_delete(message_id: int, conn: BaseDBAsyncClient) -> Row:
    # The content is wiped in storage, not hidden: a deleted message's text exists nowhere.
    row = await fetchrow(
        f"""UPDATE messages AS m SET content = '', is_deleted = TRUE WHERE m.id = $1
            RETURNING {MESSAGE_COLUMNS}""",
        message_id,
        conn=conn,
    )
    assert row is not None
    return row


async def history(
    *, chat_id: int, before_seq: int | None, after_seq: int | None, limit: int
) -> list[Row]:
    """Ascending by seq; served by the (chat_id, seq) unique index."""
    if after_seq is not None:
        args: list[Any] = [chat_id, after_seq, limit]
        upper = ""
        if before_seq is not None:
            upper = "AND m.seq < $4"
            args.append(before_seq)
        return await fetch(
            f"""SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.chat_id = $1 AND m.seq > $2 {upper}
                ORDER BY m.seq LIMIT $3""",
            *args,
        )
    bound = "AND m.seq < $3" if before_seq is not None else ""
    args = [chat_id, limit] + ([before_seq] if before_seq is not None else [])
    rows = await fetch(
        f"""SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.chat_id = $1 {bound}
            ORDER BY m.seq DESC LIMIT $2""",
        *args,
    )
    rows.reverse()
    return rows


async def last_messages(chat_seqs: list[tuple[int, int]]) -> dict[int, Row]:
    if not chat_seqs:
        return {}
    rows = await fetch(
        f"""SELECT {MESSAGE_COLUMNS} FROM unnest($1::bigint[], $2::bigint[]) AS p(chat_id, seq)
            JOIN messages m ON m.chat_id = p.chat_id AND m.seq = p.seq""",
        [c for c, _ in chat_seqs],
        [s for _, s in chat_seqs],
    )
    return {row["chat_id"]: row for row in rows}


async def max_seq_of(chat_id: int, message_ids: list[int]) -> int | None:
    row = await fetchrow(
        "SELECT max(seq) AS seq FROM messages WHERE chat_id = $1 AND id = ANY($2::bigint[])",
        chat_id,
        message_ids,
    )
    return int(row["seq"]) if row and row["seq"] is not None else None


async def count_unread(chat_id: int, user_id: int, read_seq: int, conn: BaseDBAsyncClient | None = None) -> int:
    row = await fetchrow(
        """SELECT count(*) AS n FROM messages WHERE chat_id = $1 AND seq > $3 AND sender_id <> $2
           AND NOT is_deleted""",
        chat_id,
        user_id,
        read_seq,
        conn=conn,
    )
    return int(row["n"]) if row else 0
