"""Attachment rows: who uploaded what, which message carries it, and who may read it."""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import Row, execute, fetch, fetchrow, fetchval
from app.ids import possible_id

# The contract's Attachment as a jsonb object, for message reads (app/storage/messages.py).
ATTACHMENTS_OF_MESSAGE = """(SELECT coalesce(jsonb_agg(jsonb_build_object(
        'id', a.id, 'name', a.name, 'content_type', a.content_type, 'size', a.size,
        'width', a.width, 'height', a.height, 'has_thumbnail', a.thumbnail_key IS NOT NULL) ORDER BY a.id), '[]')
    FROM attachments a WHERE a.message_id = m.id)"""


async def stored_bytes(user_id: int) -> int:
    return int(await fetchval("SELECT coalesce(sum(size), 0) FROM attachments WHERE uploader_id = $1", user_id))


async def insert(
    *,
    uploader_id: int,
    name: str,
    content_type: str,
    size: int,
    width: int | None,
    height: int | None,
    storage_key: str,
    thumbnail_key: str | None,
) -> Row:
    row = await fetchrow(
        """INSERT INTO attachments (uploader_id, name, content_type, size, width, height, storage_key,
                                    thumbnail_key, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now()) RETURNING *""",
        uploader_id, name, content_type, size, width, height, storage_key, thumbnail_key,
    )  # fmt: skip
    assert row is not None
    return row


async def readable(attachment_id: int, user_id: int) -> Row | None:
    """The attachment if user_id uploaded it, is now a member of a chat where a live message
    carries it, or it is some user's current avatar (profiles are public to every
    authenticated user); else None, exactly as for one that does not exist."""
    if not possible_id(attachment_id):
        return None
    return await fetchrow(
        """SELECT a.* FROM attachments a
           WHERE a.id = $1 AND (a.uploader_id = $2 OR EXISTS (
               SELECT 1 FROM messages m JOIN chat_members cm ON cm.chat_id = m.chat_id AND cm.user_id = $2
               WHERE m.id = a.message_id AND NOT m.is_deleted)
             OR EXISTS (SELECT 1 FROM users u WHERE u.avatar_id = a.id))""",
        attachment_id,
        user_id,
    )


async def claim(attachment_ids: list[int], uploader_id: int, conn: BaseDBAsyncClient) -> bool:
    """Lock the caller's own attachments that no message took yet; True when every id is one.
    The caller's transaction then stores the message and attach()es them."""
    rows = await fetch(
        """SELECT id FROM attachments WHERE id = ANY($1::bigint[]) AND uploader_id = $2 AND message_id IS NULL
             AND NOT EXISTS (SELECT 1 FROM users u WHERE u.avatar_id = attachments.id)
           FOR UPDATE""",
        attachment_ids,
        uploader_id,
        conn=conn,
    )
    return len(rows) == len(set(attachment_ids))


async def attach(attachment_ids: list[int], message_id: int, conn: BaseDBAsyncClient) -> None:
    await execute(
        "UPDATE attachments SET message_id = $2 WHERE id = ANY($1::bigint[])", attachment_ids, message_id, conn=conn
    )


async def expired(*, orphan_hours: float, limit: int) -> list[Row]:
    """Uploads no message took within orphan_hours (and no user shows as avatar, and no
    scheduled message will send), and those of deleted messages."""
    return await fetch(
        """SELECT a.id, a.storage_key, a.thumbnail_key FROM attachments a
           WHERE (a.message_id IS NULL AND a.created_at < now() - make_interval(secs => $1)
                  AND NOT EXISTS (SELECT 1 FROM users u WHERE u.avatar_id = a.id)
                  AND NOT EXISTS (SELECT 1 FROM scheduled_messages s WHERE a.id = ANY(s.attachment_ids)))
              OR EXISTS (SELECT 1 FROM messages m WHERE m.id = a.message_id AND m.is_deleted)
           ORDER BY a.id LIMIT $2""",
        orphan_hours * 3600,
        limit,
    )


async def delete_rows(attachment_ids: list[int]) -> None:
    await execute("DELETE FROM attachments WHERE id = ANY($1::bigint[])", attachment_ids)



async def lock_avatar_candidate(attachment_id: int, user_id: int, conn: BaseDBAsyncClient) -> Row | None:
    """The attachment, locked, if user_id uploaded it and no message carries it (so it can be
    the avatar: a send cannot take it meanwhile, and a message's deletion never removes it)."""
    if not possible_id(attachment_id):
        return None
    return await fetchrow(
        """SELECT * FROM attachments WHERE id = $1 AND uploader_id = $2 AND message_id IS NULL FOR UPDATE""",
        attachment_id,
        user_id,
        conn=conn,
    )


async def of_uploader(user_id: int, limit: int) -> list[Row]:
    return await fetch(
        "SELECT id, storage_key, thumbnail_key FROM attachments WHERE uploader_id = $1 ORDER BY id LIMIT $2",
        user_id,
        limit,
    )
