from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from app.db import Row, fetch, fetchrow
from app.ids import possible_id
from app.jsonutil import dumps_str
from app.storage.attachments import ATTACHMENTS_OF_MESSAGE


class DuplicateSend(Exception):
    """The (sender, client_msg_id) pair is stored already: a concurrent repeat won."""


# What every read of a message returns, as (expression, name) over the alias `m`. The reply's
# preview is read from the original's current row, whose content is '' once it is deleted.
_COLUMNS = [
    *((f"m.{name}", name) for name in (
        "id", "chat_id", "seq", "sender_id", "client_msg_id", "content", "created_at", "edited_at",
        "is_deleted", "delivered_at", "read_at", "reply_to_id", "mentions", "reactions", "pinned_at", "expires_at",
    )),
    (
        """(SELECT jsonb_build_object('id', r.id, 'seq', r.seq, 'sender_id', r.sender_id,
                                      'preview', left(r.content, 100))
            FROM messages r WHERE r.id = m.reply_to_id)""",
        "reply_to",
    ),
    (ATTACHMENTS_OF_MESSAGE, "attachments"),
]
MESSAGE_FIELDS = [name for _, name in _COLUMNS]
MESSAGE_COLUMNS = ", ".join(f"{expression} AS {name}" for expression, name in _COLUMNS)


def message_columns_as(prefix: str) -> str:
    """The same columns named `<prefix><name>`, for queries that join messages to other rows."""
    return ", ".join(f"{expression} AS {prefix}{name}" for expression, name in _COLUMNS)


# The members a message's @usernames name (usernames are unique case-insensitively). Skipped
# without a query when the text names nobody, so a plain send to a large group reads no members.
_MENTIONED = """CASE WHEN cardinality($MENTIONS::text[]) = 0 THEN '{}'::bigint[] ELSE ARRAY(
        SELECT cm.user_id FROM users u JOIN chat_members cm ON cm.user_id = u.id AND cm.chat_id = $CHAT
        WHERE lower(u.username) = ANY($MENTIONS::text[]) ORDER BY cm.user_id) END"""


def _mentioned(chat_param: str, names_param: str) -> str:
    return _MENTIONED.replace("$MENTIONS", names_param).replace("$CHAT", chat_param)


async def by_client_id(sender_id: int, client_msg_id: str, conn: BaseDBAsyncClient | None = None) -> Row | None:
    return await fetchrow(
        f"SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.sender_id = $1 AND m.client_msg_id = $2",
        sender_id,
        client_msg_id,
        conn=conn,
    )


@dataclass(frozen=True)
class NewMessage:
    chat_id: int
    sender_id: int
    client_msg_id: str | None
    content: str
    reply_to_id: int | None = None
    mention_names: list[str] = field(default_factory=list)  # lower-cased @names in content
    # Refuse (None) when the chat's slow mode applies to the sender (below admin): the caller
    # then takes the member's turn in Redis (app/services/ratelimit.py SlowMode) and sends
    # again without it. Chats without slow mode cost nothing more.
    enforce_slow_mode: bool = False


async def send_message(message: NewMessage, conn: BaseDBAsyncClient | None = None) -> Row | None:
    """Store a message in one statement, committed on its own unless `conn` is a transaction
    (a send with attachments): the membership check, the
    reply's check (an earlier message of the same chat), the next seq (under the chat row's
    lock, held only inside PostgreSQL for this statement), the mentions, the message row and
    its outbox row. None when sender_id is not a member of chat_id, reply_to_id is not a
    message of it, chat_id is a direct chat whose other member blocked sender_id, an admin
    of the group muted sender_id (send_blocked_until), or enforce_slow_mode and the chat's
    slow mode applies to sender_id.

    The outbox row names no recipients: the worker reads the members when it delivers, so a
    send to a large group writes no more than a send to a pair. A concurrent repeat of
    (sender_id, client_msg_id) raises DuplicateSend, and the whole statement (its seq
    included) is rolled back, so no seq gap can appear.
    """
    if not possible_id(message.chat_id, message.sender_id) or (
        message.reply_to_id is not None and not possible_id(message.reply_to_id)
    ):
        return None
    try:
        return await fetchrow(
            f"""WITH c AS (
                  UPDATE chats SET last_seq = last_seq + 1, last_activity_at = now()
                  WHERE id = $1 AND EXISTS (
                      SELECT 1 FROM chat_members cm WHERE cm.chat_id = $1 AND cm.user_id = $2
                        AND (cm.send_blocked_until IS NULL OR cm.send_blocked_until <= now())
                        AND (NOT $7::boolean OR chats.slow_mode IS NULL OR cm.role IN ('owner', 'admin')))
                    AND ($5::bigint IS NULL OR EXISTS (SELECT 1 FROM messages WHERE id = $5 AND chat_id = $1))
                    AND (type <> 'direct' OR NOT EXISTS (
                        SELECT 1 FROM chat_members o JOIN user_blocks b ON b.blocker_id = o.user_id AND b.blocked_id = $2
                        WHERE o.chat_id = $1 AND o.user_id <> $2))
                  RETURNING last_seq),
                m AS (
                  INSERT INTO messages (chat_id, seq, sender_id, client_msg_id, content, created_at, is_deleted,
                                        reply_to_id, mentions, reactions)
                  SELECT $1, c.last_seq, $2, $3, $4, now(), FALSE, $5, {_mentioned("$1", "$6")}, '[]'
                  FROM c RETURNING *),
                o AS (
                  INSERT INTO outbox (type, chat_id, payload, created_at)
                  SELECT 'message', $1, jsonb_build_object('message_id', m.id), m.created_at FROM m)
                SELECT {MESSAGE_COLUMNS} FROM m""",
            message.chat_id,
            message.sender_id,
            message.client_msg_id,
            message.content,
            message.reply_to_id,
            message.mention_names,
            message.enforce_slow_mode,
            conn=conn,
        )
    except IntegrityError as exc:
        raise DuplicateSend from exc


async def lock_message(message_id: int, conn: BaseDBAsyncClient) -> Row | None:
    if not possible_id(message_id):
        return None
    return await fetchrow(
        f"SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.id = $1 FOR UPDATE", message_id, conn=conn
    )


async def get_message(message_id: int, conn: BaseDBAsyncClient | None = None) -> Row | None:
    if not possible_id(message_id):
        return None
    return await fetchrow(f"SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.id = $1", message_id, conn=conn)


async def get_messages(message_ids: list[int]) -> list[Row]:
    return await fetch(f"SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.id = ANY($1::bigint[])", message_ids)


async def update_content(message_id: int, content: str, mention_names: list[str], conn: BaseDBAsyncClient) -> Row:
    row = await fetchrow(
        f"""UPDATE messages AS m SET content = $2, edited_at = now(), mentions = {_mentioned("m.chat_id", "$3")}
            WHERE m.id = $1 RETURNING {MESSAGE_COLUMNS}""",
        message_id,
        content,
        mention_names,
        conn=conn,
    )
    assert row is not None
    return row


async def soft_delete(message_id: int, conn: BaseDBAsyncClient) -> Row:
    # The content is wiped in storage, not hidden: a deleted message's text exists nowhere;
    # its reactions, mentions and pin go with it.
    row = await fetchrow(
        f"""UPDATE messages AS m SET content = '', is_deleted = TRUE, reactions = '[]', mentions = '{{}}',
                   pinned_at = NULL
            WHERE m.id = $1 RETURNING {MESSAGE_COLUMNS}""",
        message_id,
        conn=conn,
    )
    assert row is not None
    return row


async def set_reactions(message_id: int, reactions: list[dict[str, Any]], conn: BaseDBAsyncClient) -> Row:
    """Replace the reaction list; the caller holds the row lock (lock_message)."""
    row = await fetchrow(
        f"UPDATE messages AS m SET reactions = $2::jsonb WHERE m.id = $1 RETURNING {MESSAGE_COLUMNS}",
        message_id,
        dumps_str(reactions),
        conn=conn,
    )
    assert row is not None
    return row


async def set_pinned(message_id: int, pinned: bool, conn: BaseDBAsyncClient) -> Row:
    """Pin keeps the first pin's time (pinning again is a no-op); unpin clears it."""
    row = await fetchrow(
        f"""UPDATE messages AS m SET pinned_at = CASE WHEN $2 THEN coalesce(m.pinned_at, now()) END
            WHERE m.id = $1 RETURNING {MESSAGE_COLUMNS}""",
        message_id,
        pinned,
        conn=conn,
    )
    assert row is not None
    return row


async def pins(*, chat_id: int, before: tuple[datetime, int] | None, limit: int, floor: int = 0) -> list[Row]:
    """Most recently pinned first, through the partial index on pins (migration 3); only
    messages after seq `floor` (a member who joined a chat whose history is hidden)."""
    args: list[Any] = [chat_id, limit]
    bound = f"AND m.seq > {int(floor)}" if floor else ""
    if before is not None:
        bound += " AND (m.pinned_at, m.id) < ($3, $4)"
        args += list(before)
    return await fetch(
        f"""SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.chat_id = $1 AND m.pinned_at IS NOT NULL {bound}
            ORDER BY m.pinned_at DESC, m.id DESC LIMIT $2""",
        *args,
    )


async def history(
    *, chat_id: int, before_seq: int | None, after_seq: int | None, limit: int, floor: int = 0
) -> list[Row]:
    """Ascending by seq; served by the (chat_id, seq) unique index. Only messages after seq
    `floor` (a member who joined a chat whose history is hidden)."""
    if after_seq is not None:
        after_seq = max(after_seq, floor)
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
    if floor:
        bound += f" AND m.seq > {int(floor)}"
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


async def count_unread(
    chat_id: int, user_id: int, read_seq: int, conn: BaseDBAsyncClient | None = None
) -> tuple[int, int]:
    """(unread messages, unread mentions of user_id) after read_seq: others' live messages."""
    row = await fetchrow(
        """SELECT count(*) AS n, count(*) FILTER (WHERE $2 = ANY(mentions)) AS mentions
           FROM messages WHERE chat_id = $1 AND seq > $3 AND sender_id <> $2 AND NOT is_deleted""",
        chat_id,
        user_id,
        read_seq,
        conn=conn,
    )
    return (int(row["n"]), int(row["mentions"])) if row else (0, 0)
