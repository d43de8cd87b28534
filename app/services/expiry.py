"""The `expire` cron job's work (contract: message_ttl): within seconds of a message's
expires_at it is gone for everyone, as a delete is (members get message_deleted), and so is
everything that carried its text: reactions, mentions, pin, the search entry (generated from
the content), reply previews and inbox events (both read the message row), pushes not yet sent
(they skip deleted messages), and its attachments, bytes included."""

from __future__ import annotations

import time

from arq.connections import ArqRedis

from app import keys
from app.media.store import MediaStore
from app.services.dispatch import enqueue_delivery, partition_of
from app.storage import expiry as expiry_store

BATCH = 500


async def expire_due(redis: ArqRedis, store: MediaStore, *, partitions: int, until: float) -> int:
    """Wipe every expired message batch by batch until none is due or `until` (monotonic)
    passes; how many were wiped."""
    total = 0
    while time.monotonic() < until:
        rows = await expiry_store.expire_due(BATCH)
        if not rows:
            break
        total += len({row["id"] for row in rows})
        await enqueue_delivery(redis, sorted({partition_of(row["chat_id"], partitions) for row in rows}))
        files = [row for row in rows if row["attachment_id"] is not None]
        for row in files:
            await store.delete(row["storage_key"])
            if row["thumbnail_key"]:
                await store.delete(row["thumbnail_key"])
        if files:
            await expiry_store.drop_attachments([row["attachment_id"] for row in files])
    return total


RETAIN_BATCH = 5000


async def mark_retention(redis: ArqRedis, *, days: float, until: float) -> int:
    """MESSAGE_RETENTION_DAYS: walk messages by id from where the last run stopped (a cursor in
    Redis: a wipe only costs one walk from the start) and give those older than the cutoff an
    expires_at of now, so the `expire` job removes them the same way; the last id reached."""
    after_id = int(await redis.get(keys.RETENTION_CURSOR) or 0)
    while time.monotonic() < until:
        reached = await expiry_store.mark_past_retention(after_id=after_id, cutoff_days=days, limit=RETAIN_BATCH)
        if reached is None:
            break
        after_id = reached
        await redis.set(keys.RETENTION_CURSOR, after_id)
    return after_id
