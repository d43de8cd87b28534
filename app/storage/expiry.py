"""Disappearing messages: those past their `expires_at` (a chat's message_ttl) are wiped as a
delete is, and more (their reactions, mentions, pin, attachments, client id), in batches read
through the partial index on expires_at: a sweep costs what is due, not a scan of messages."""

from __future__ import annotations

from app.db import Row, execute, fetch, fetchrow


async def expire_due(limit: int) -> list[Row]:
    """One batch, in one statement: up to `limit` messages past their expiry keep their seq with
    content '', is_deleted and nothing else, each with its `message_deleted` outbox row; rows
    another transaction holds are skipped. Their attachments' keys, to delete the bytes."""
    return await fetch(
        """WITH w AS (
               UPDATE messages AS m SET content = '', is_deleted = TRUE, reactions = '[]', mentions = '{}',
                      pinned_at = NULL, client_msg_id = NULL, expires_at = NULL
               WHERE m.id IN (SELECT id FROM messages WHERE expires_at <= now()
                              ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
               RETURNING m.id, m.chat_id),
           o AS (
               INSERT INTO outbox (type, chat_id, payload, created_at)
               SELECT 'message_deleted', w.chat_id, jsonb_build_object('message_id', w.id), now() FROM w)
           SELECT w.id, w.chat_id, a.id AS attachment_id, a.storage_key, a.thumbnail_key
           FROM w LEFT JOIN attachments a ON a.message_id = w.id""",
        limit,
    )


async def drop_attachments(attachment_ids: list[int]) -> None:
    await execute("DELETE FROM attachments WHERE id = ANY($1::bigint[])", attachment_ids)


async def mark_past_retention(*, after_id: int, cutoff_days: float, limit: int) -> int | None:
    """Give the next `limit` messages by id after `after_id` that were stored before the
    retention cutoff an expires_at of now (the expire job then wipes them as any disappearing
    message); the last id looked at, or None when the next message is newer than the cutoff
    (ids grow with time: nothing after it is older)."""
    row = await fetchrow(
        """WITH next AS (
               SELECT id, created_at < now() - $2 * interval '1 day' AS old
               FROM messages WHERE id > $1 ORDER BY id LIMIT $3),
           upto AS (SELECT max(id) AS id FROM next WHERE old
                    AND id < coalesce((SELECT min(id) FROM next WHERE NOT old), 9223372036854775807)),
           marked AS (
               UPDATE messages m SET expires_at = now()
               FROM upto WHERE m.id > $1 AND m.id <= upto.id AND NOT m.is_deleted AND m.expires_at IS NULL)
           SELECT id FROM upto""",
        after_id,
        cutoff_days,
        limit,
    )
    return int(row["id"]) if row and row["id"] is not None else None
