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
    at: datetime = row["at"]
    return at


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
    each (user_id, after_inbox_seq, up_to_inbox_seq) range. Each range is read through the
    (user_id, inbox_seq) index: OFFSET 0 keeps the LATERAL from being flattened into a hash
    join, which scanned the whole inbox on every ack batch."""
    return await fetch(
        """SELECT a.user_id, m.chat_id, max(m.seq) AS seq
           FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS a(user_id, after_seq, up_to)
           CROSS JOIN LATERAL (
               SELECT x.message_id, x.type FROM inbox_events x
               WHERE x.user_id = a.user_id AND x.inbox_seq > a.after_seq AND x.inbox_seq <= a.up_to OFFSET 0) e
           JOIN messages m ON m.id = e.message_id
           WHERE e.type = 'message' AND m.sender_id <> a.user_id
           GROUP BY a.user_id, m.chat_id""",
        [a[0] for a in acks],
        [a[1] for a in acks],
        [a[2] for a in acks],
    )


async def advance_delivered(marks: list[tuple[int, int, int]], conn: BaseDBAsyncClient) -> list[Row]:
    """Raise many members' delivered marks at once, (chat_id, user_id, up_to_seq) each, and
    write their receipt marks: the rows that rose, with the previous mark (`old`) and the
    mark's time. The rows are locked in id order first, in a statement of their own, so
    concurrent batches never deadlock (see inbox.append_events for why not in one statement)."""
    args = ([m[0] for m in marks], [m[1] for m in marks], [m[2] for m in marks])
    await execute(
        """SELECT 1 FROM chat_members cm
           JOIN unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS a(chat_id, user_id, seq)
             ON cm.chat_id = a.chat_id AND cm.user_id = a.user_id
           WHERE cm.delivered_seq < a.seq ORDER BY cm.id FOR UPDATE OF cm""",
        *args,
        conn=conn,
    )
    return await fetch(
        """WITH a AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS a(chat_id, user_id, seq)),
           o AS (SELECT cm.id, cm.chat_id, cm.user_id, cm.delivered_seq AS old, a.seq
                 FROM chat_members cm JOIN a ON cm.chat_id = a.chat_id AND cm.user_id = a.user_id
                 WHERE cm.delivered_seq < a.seq),
           moved AS (UPDATE chat_members cm SET delivered_seq = o.seq FROM o WHERE cm.id = o.id
                     RETURNING o.chat_id, o.user_id, o.old, o.seq)
           INSERT INTO receipt_marks (chat_id, user_id, status, up_to_seq, at)
           SELECT chat_id, user_id, 'delivered', seq, now() FROM moved
           RETURNING chat_id, user_id, up_to_seq AS seq, at,
                     (SELECT old FROM moved WHERE moved.chat_id = receipt_marks.chat_id
                        AND moved.user_id = receipt_marks.user_id) AS old""",
        *args,
        conn=conn,
    )


async def announce_delivered(moved: list[Row], *, max_group: int, conn: BaseDBAsyncClient) -> None:
    """For marks that rose: stamp delivered_at on messages every other member now has, and
    record a receipt event to the senders of the messages each mark moved over (in chats of
    at most max_group members)."""
    args = (
        [r["chat_id"] for r in moved],
        [r["user_id"] for r in moved],
        [r["old"] for r in moved],
        [r["seq"] for r in moved],
        [r["at"] for r in moved],
        max_group,
    )
    # Per chat, the span all its moved marks cover; the messages in it not yet stamped, read
    # through the (chat_id, seq) index (OFFSET 0 keeps the LATERAL from being flattened into a
    # hash join over the whole table: no index has delivered_at); per sender among them, the
    # lowest mark of the other members, read once per (chat, sender), never once per (mark,
    # message): in a 1,000-member group that cost the square of its size.
    await execute(
        """WITH mv AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::timestamptz[])
                       AS mv(chat_id, user_id, old, seq, at)),
           span AS (SELECT chat_id, min(old) AS lo, max(seq) AS hi FROM mv GROUP BY chat_id),
           pending AS MATERIALIZED (
               SELECT m.id, m.chat_id, m.sender_id, m.seq FROM span CROSS JOIN LATERAL (
                   SELECT id, chat_id, sender_id, seq FROM messages
                   WHERE chat_id = span.chat_id AND seq > span.lo AND seq <= span.hi AND delivered_at IS NULL OFFSET 0) m),
           floor AS MATERIALIZED (
               SELECT d.chat_id, d.sender_id,
                      (SELECT min(cm.delivered_seq) FROM chat_members cm
                       WHERE cm.chat_id = d.chat_id AND cm.user_id <> d.sender_id) AS reached
               FROM (SELECT DISTINCT chat_id, sender_id FROM pending) d),
           stamped AS (
               UPDATE messages m SET delivered_at = now()
               FROM pending p JOIN floor f ON f.chat_id = p.chat_id AND f.sender_id = p.sender_id
               WHERE m.id = p.id AND p.seq <= coalesce(f.reached, p.seq)),
           small AS (SELECT span.chat_id FROM span
                     WHERE (SELECT count(*) FROM chat_members cm WHERE cm.chat_id = span.chat_id) <= $6)
           INSERT INTO outbox (type, chat_id, user_ids, payload, created_at)
           SELECT 'receipt', mv.chat_id, s.senders,
                  jsonb_build_object('chat_id', mv.chat_id, 'user_id', mv.user_id, 'status', 'delivered',
                                     'up_to_seq', mv.seq,
                                     'at', to_char(mv.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
                  now()
           FROM mv JOIN small ON small.chat_id = mv.chat_id CROSS JOIN LATERAL (
               SELECT jsonb_agg(DISTINCT m.sender_id) AS senders FROM messages m
               WHERE m.chat_id = mv.chat_id AND m.seq > mv.old AND m.seq <= mv.seq AND m.sender_id <> mv.user_id) s
           WHERE s.senders IS NOT NULL""",
        *args,
        conn=conn,
    )
