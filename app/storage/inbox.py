"""Per-user inbox events, their gapless numbering, and device cursors."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import Row, execute, fetch, fetchrow, fetchval
from app.jsonutil import dumps_str

EVENT_COLUMNS = "e.user_id, e.inbox_seq, e.type, e.chat_id, e.message_id, e.payload, e.committed_at"


async def append_events(
    events: list[dict[str, Any]], *, consumed: list[int], conn: BaseDBAsyncClient
) -> tuple[list[int | None], list[int]]:
    """Append the events to their users' inboxes and delete the outbox records they came from,
    in one statement after locking the counters; returns each event's inbox_seq (None: its user
    was deleted meanwhile), and which of the users are bots whose webhook is on (their job is
    woken after the commit).

    The per-user counter lives on the user row and moves inside the delivery transaction, so a
    rollback returns the seqs and no gap can appear. The rows are locked in id order first, in
    a statement of their own: concurrent partitions' drains then queue behind each other
    instead of deadlocking (an UPDATE ... FROM locks in whatever order its plan reads, and a
    locking CTE in the same statement is not enough: that statement's snapshot predates the
    locks, and following newer row versions takes tuple locks out of order; the partition test
    deadlocked that way). NO KEY UPDATE, as the UPDATE itself takes: foreign-key checks of
    sends and member inserts (KEY SHARE on users) never wait for a drain.
    """
    counts = Counter(e["user_id"] for e in events)
    user_ids = sorted(counts)
    await execute("SELECT 1 FROM users WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE", user_ids, conn=conn)
    rows = await fetch(
        """WITH bumped AS (
                UPDATE users u SET inbox_seq = u.inbox_seq + c.n
                FROM unnest($1::bigint[], $2::bigint[]) AS c(id, n)
                WHERE u.id = c.id
                RETURNING u.id, u.inbox_seq - c.n AS base),
            done AS (DELETE FROM outbox WHERE id = ANY($10::bigint[])),
            inserted AS (
                INSERT INTO inbox_events (user_id, inbox_seq, type, chat_id, message_id, payload, created_at, committed_at)
                SELECT e.user_id, b.base + row_number() OVER (PARTITION BY e.user_id ORDER BY e.ord),
                       e.type, e.chat_id, e.message_id, e.payload::jsonb, now(), e.committed_at
                FROM unnest($3::bigint[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::float8[], $9::int[])
                  AS e(user_id, type, chat_id, message_id, payload, committed_at, ord)
                JOIN bumped b ON b.id = e.user_id)
            SELECT b.id, b.base, w.bot_id IS NOT NULL AS webhook
            FROM bumped b LEFT JOIN webhooks w ON w.bot_id = b.id AND w.enabled AND w.url IS NOT NULL""",
        user_ids,
        [counts[u] for u in user_ids],
        [e["user_id"] for e in events],
        [e["type"] for e in events],
        [e["chat_id"] for e in events],
        [e["message_id"] for e in events],
        [dumps_str(e["payload"]) if e["payload"] is not None else None for e in events],
        [e["committed_at"] for e in events],
        list(range(len(events))),
        consumed,
        conn=conn,
    )
    # The same numbering as row_number() above: each user's events in the given order.
    last = {row["id"]: int(row["base"]) for row in rows}
    seqs: list[int | None] = []
    for event in events:
        user_id = event["user_id"]
        if user_id in last:
            last[user_id] += 1
            seqs.append(last[user_id])
        else:
            seqs.append(None)
    return seqs, [row["id"] for row in rows if row["webhook"]]


async def events_after_many(requests: list[tuple[int, int, int]]) -> list[list[Row]]:
    """For each (user_id, after_seq, limit), that user's events after after_seq in order, in
    one query: a reconnect storm's replays cost one round trip per batch, not per device."""
    rows = await fetch(
        f"""SELECT r.idx, {EVENT_COLUMNS}
            FROM unnest($1::bigint[], $2::bigint[], $3::int[]) WITH ORDINALITY AS r(user_id, after_seq, lim, idx)
            CROSS JOIN LATERAL (
                SELECT * FROM inbox_events x WHERE x.user_id = r.user_id AND x.inbox_seq > r.after_seq
                ORDER BY x.inbox_seq LIMIT r.lim) e
            ORDER BY r.idx, e.inbox_seq""",
        [r[0] for r in requests],
        [r[1] for r in requests],
        [r[2] for r in requests],
    )
    grouped: list[list[Row]] = [[] for _ in requests]
    for row in rows:
        grouped[int(row.pop("idx")) - 1].append(row)
    return grouped


async def last_seqs(user_ids: list[int]) -> dict[int, int]:
    rows = await fetch("SELECT id, inbox_seq FROM users WHERE id = ANY($1::bigint[])", user_ids)
    return {row["id"]: int(row["inbox_seq"]) for row in rows}


async def last_seq(user_id: int) -> int:
    return int(await fetchval("SELECT inbox_seq FROM users WHERE id = $1", user_id) or 0)


async def prune_before(cutoff: datetime) -> int:
    return await execute("DELETE FROM inbox_events WHERE created_at < $1", cutoff)


async def open_device(user_id: int, device_id: str) -> int:
    """Register the device (new ones start at 0, the start of the retained inbox); its cursor."""
    row = await fetchrow(
        """INSERT INTO devices (user_id, device_id, acked_seq, created_at, last_seen_at)
           VALUES ($1, $2, 0, now(), now())
           ON CONFLICT (user_id, device_id) DO UPDATE SET last_seen_at = now()
           RETURNING acked_seq""",
        user_id,
        device_id,
    )
    assert row is not None
    return int(row["acked_seq"])


async def ack_devices(acks: list[tuple[int, str, int]]) -> list[Row]:
    """Advance cursors (never backwards, never past the user's last seq); the rows that moved,
    with their previous cursor."""
    return await fetch(
        """UPDATE devices d SET acked_seq = LEAST(a.seq, u.inbox_seq), last_seen_at = now()
           FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS a(user_id, device_id, seq),
                (SELECT id, inbox_seq FROM users) u, devices old
           WHERE d.user_id = a.user_id AND d.device_id = a.device_id AND u.id = a.user_id
             AND old.id = d.id AND LEAST(a.seq, u.inbox_seq) > d.acked_seq
           RETURNING d.user_id, d.device_id, old.acked_seq AS before, d.acked_seq AS after""",
        [a[0] for a in acks],
        [a[1] for a in acks],
        [a[2] for a in acks],
    )


async def device_cursor(user_id: int, device_id: str) -> int | None:
    value = await fetchval("SELECT acked_seq FROM devices WHERE user_id = $1 AND device_id = $2", user_id, device_id)
    return int(value) if value is not None else None
