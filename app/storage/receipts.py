from __future__ import annotations

from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import Row, execute, fetch, fetchrow

_COLUMN = {"read": "read_seq", "delivered": "delivered_seq"}
_STAMP = {"read": "read_at", "delivered": "delivered_at"}


async def advance(
    *, chat_id: int, user_id: int, status: str, up_to_seq: int, conn: BaseDBAsyncClient
) -> int | None:
    """Raise the member's mark to up_to_seq; the previous mark, or None if it did not rise."""
    column = _COLUMN[status]
    row = await fetchrow(
        f"""UPDATE chat_members cm SET {column} = $3
            FROM (SELECT id, {column} AS old FROM chat_members
                  WHERE chat_id = $1 AND user_id = $2 FOR UPDATE) o
            WHERE cm.id = o.id AND o.old < $3 RETURNING o.old""",
        chat_id,
        user_id,
        up_to_seq,
        conn=conn,
    )
    return int(row["old"]) if row else None


async def insert_mark(
    *, chat_id: int, user_id: int, status: str, up_to_seq: int, conn: BaseDBAsyncClient
) -> datetime:
    row = await fetchrow(
        """INSERT INTO receipt_marks (chat_id, user_id, status, up_to_seq, at)
           VALUES ($1, $2, $3, $4, now()) RETURNING at""",
        chat_id,
        user_id,
        status,
        up_to_seq,
        conn=conn,
    )
    assert row is not None
    return row["at"]


async def stamp_messages(
    *, chat_id: int, user_id: int, status: str, after_seq: int, up_to_seq: int, conn: BaseDBAsyncClient
) -> None:
    """Set delivered_at/read_at on messages every other member has now reached.

    A message becomes fully received exactly when its last laggard's mark crosses it, so only
    the range this member just advanced over can change.
    """
    column, stamp = _COLUMN[status], _STAMP[status]
    await execute(
        f"""UPDATE messages m SET {stamp} = now()
            WHERE m.chat_id = $1 AND m.seq > $3 AND m.seq <= $4 AND m.{stamp} IS NULL
              AND m.sender_id <> $2
              AND NOT EXISTS (SELECT 1 FROM chat_members cm WHERE cm.chat_id = m.chat_id
                              AND cm.user_id <> m.sender_id AND cm.{column} < m.seq)""",
        chat_id,
        user_id,
        after_seq,
        up_to_seq,
        conn=conn,
    )


async def per_member(*, chat_id: int, seq: int, sender_id: int) -> list[Row]:
    """Each other member's first delivered/read time for the message at seq."""
    return await fetch(
        """SELECT cm.user_id,
             (SELECT min(r.at) FROM receipt_marks r WHERE r.chat_id = $1 AND r.user_id = cm.user_id
                AND r.status = 'delivered' AND r.up_to_seq >= $2) AS delivered_at,
             (SELECT min(r.at) FROM receipt_marks r WHERE r.chat_id = $1 AND r.user_id = cm.user_id
                AND r.status = 'read' AND r.up_to_seq >= $2) AS read_at
           FROM chat_members cm WHERE cm.chat_id = $1 AND cm.user_id <> $3 ORDER BY cm.user_id""",
        chat_id,
        seq,
        sender_id,
    )


async def delivered_ranges(acks: list[tuple[int, int, int]]) -> list[Row]:
    """Per (user, chat), the highest seq of others' messages carried by the inbox events in
    each (user_id, after_inbox_seq, up_to_inbox_seq) range."""
    return await fetch(
        """SELECT a.user_id, m.chat_id, max(m.seq) AS seq
           FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS a(user_id, after_seq, up_to)
           JOIN inbox_events e ON e.user_id = a.user_id AND e.inbox_seq > a.after_seq AND e.inbox_seq <= a.up_to
           JOIN messages m ON m.id = e.message_id
           WHERE e.type = 'message' AND m.sender_id <> a.user_id
           GROUP BY a.user_id, m.chat_id""",
        [a[0] for a in acks],
        [a[1] for a in acks],
        [a[2] for a in acks],
    )
