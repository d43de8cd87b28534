"""The `expire` cron job's work (contract: message_ttl): within seconds of a message's
expires_at it is gone for everyone, as a delete is (members get message_deleted), and so is
everything that carried its text: reactions, mentions, pin, the search entry (generated from
the content), reply previews and inbox events (both read the message row), pushes not yet sent
(they skip deleted messages), and its attachments, bytes included."""

from __future__ import annotations

import time

from arq.connections import ArqRedis

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
