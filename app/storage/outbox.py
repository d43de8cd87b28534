"""The outbox: changes recorded in their own transaction, consumed by the delivery job."""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.config import OUTBOX_SLOTS
from app.db import Row, execute, fetch, fetchrow
from app.jsonutil import dumps_str
from app.storage.messages import MESSAGE_FIELDS, message_columns_as

_MESSAGE_AS = message_columns_as("m_")


async def record(
    *, type: str, chat_id: int | None, payload: dict[str, Any], conn: BaseDBAsyncClient, user_ids: list[int] | None = None
) -> None:
    """Address the record to `user_ids`, or by default to the chat's members at delivery time
    (the drain reads them)."""
    await execute(
        """INSERT INTO outbox (type, chat_id, user_ids, payload, created_at) VALUES ($1, $2, $3::jsonb, $4::jsonb, now())""",
        type,
        chat_id,
        dumps_str(user_ids) if user_ids is not None else None,
        dumps_str(payload),
        conn=conn,
    )


async def record_to_members(
    *,
    type: str,
    chat_id: int,
    payload: dict[str, Any],
    conn: BaseDBAsyncClient,
    exclude: int | None = None,
    also: list[int] | None = None,
) -> None:
    """Address the record to the chat's members as they are now (read in the same statement),
    less `exclude`, plus `also` (e.g. a member just removed)."""
    await execute(
        """INSERT INTO outbox (type, chat_id, user_ids, payload, created_at)
           SELECT $1, $2,
                  coalesce((SELECT jsonb_agg(u) FROM (
                      SELECT user_id AS u FROM chat_members WHERE chat_id = $2 AND user_id IS DISTINCT FROM $4
                      UNION SELECT unnest($5::bigint[])) ids), '[]'::jsonb),
                  $3::jsonb, now()""",
        type,
        chat_id,
        dumps_str(payload),
        exclude,
        also or [],
        conn=conn,
    )


async def record_to_senders(
    *,
    type: str,
    chat_id: int,
    reader_id: int,
    after_seq: int,
    up_to_seq: int,
    payload: dict[str, Any],
    max_group: int,
    conn: BaseDBAsyncClient,
) -> None:
    """Address the record to the senders (other than reader_id) of the chat's messages with
    seq in (after_seq, up_to_seq], read in the same statement; nothing when there are none or
    the chat has more than max_group members."""
    await execute(
        """INSERT INTO outbox (type, chat_id, user_ids, payload, created_at)
           SELECT $1, $2, jsonb_agg(DISTINCT m.sender_id), $3::jsonb, now()
           FROM messages m WHERE m.chat_id = $2 AND m.seq > $5 AND m.seq <= $6 AND m.sender_id <> $4
             AND (SELECT count(*) FROM chat_members WHERE chat_id = $2) <= $7
           HAVING count(*) > 0""",
        type,
        chat_id,
        dumps_str(payload),
        reader_id,
        after_seq,
        up_to_seq,
        max_group,
        conn=conn,
    )


# pg advisory locks (DELIVERY_LOCK_CLASS, partition): one drainer per partition.
DELIVERY_LOCK_CLASS = 7150


async def lock_partitions(wanted: list[int], *, conn: BaseDBAsyncClient, wait: bool = True) -> list[int]:
    """Hold these partitions' drain locks until the transaction ends; the ones held. With
    `wait`, waits for other drainers and holds them all, taken in ascending order so that two
    drainers asking for overlapping sets never deadlock; without, only those free at once."""
    ordered = sorted(set(wanted))
    if wait:
        # unnest yields the array's order, and the lock is taken row by row in that order.
        await execute(
            "SELECT pg_advisory_xact_lock($1, p) FROM unnest($2::int[]) AS p", DELIVERY_LOCK_CLASS, ordered, conn=conn
        )
        return ordered
    rows = await fetch(
        "SELECT p FROM unnest($2::int[]) AS p WHERE pg_try_advisory_xact_lock($1, p)",
        DELIVERY_LOCK_CLASS,
        ordered,
        conn=conn,
    )
    return [int(row["p"]) for row in rows]


async def take_batch(*, held: list[int], partitions: int, limit: int, conn: BaseDBAsyncClient) -> list[Row]:
    """The oldest records of the partitions `held`, each with its message (`message`, None for other
    records) so the drain renders frames from what it read here, and, for records that name
    no recipients, the chat's members now (`members`). The caller holds these partitions' locks
    for this transaction (so a chat's records, all in one partition, are taken in order).

    A partition is a set of slots (chat_id mod OUTBOX_SLOTS) read through the index on (slot, id)
    (migration 2): partitions must divide OUTBOX_SLOTS, so chat_id mod partitions is the slot's.
    """
    rows = await fetch(
        f"""SELECT o.id AS outbox_id, o.type AS outbox_type, o.chat_id AS outbox_chat_id, o.user_ids,
                   o.payload, extract(epoch FROM o.created_at) AS committed_at, {_MESSAGE_AS},
                   CASE WHEN o.user_ids IS NULL THEN (
                       SELECT coalesce(array_agg(cm.user_id ORDER BY cm.user_id), '{{}}')
                       FROM chat_members cm WHERE cm.chat_id = o.chat_id) END AS members
            FROM outbox o LEFT JOIN messages m ON m.id = (o.payload->>'message_id')::bigint
            WHERE mod(coalesce(o.chat_id, 0), {OUTBOX_SLOTS}) = ANY($1::int[])
            ORDER BY o.id LIMIT $2""",
        [slot for partition in held for slot in range(partition, OUTBOX_SLOTS, partitions)],
        limit,
        conn=conn,
    )
    return [
        {
            "id": row["outbox_id"],
            "type": row["outbox_type"],
            "chat_id": row["outbox_chat_id"],
            "user_ids": row["user_ids"],
            "members": row["members"],
            "payload": row["payload"],
            "committed_at": row["committed_at"],
            "message": {name: row[f"m_{name}"] for name in MESSAGE_FIELDS} if row["m_id"] is not None else None,
        }
        for row in rows
    ]


async def backlog() -> Row:
    row = await fetchrow(
        """SELECT count(*) AS pending,
                  coalesce(extract(epoch FROM now() - min(created_at)), 0) AS oldest_age
           FROM outbox"""
    )
    assert row is not None
    return row
