"""Account exports: the rows that track them, and the reads that fill an archive."""

from __future__ import annotations

from app.db import Row, execute, fetch, fetchrow
from app.ids import possible_id
from app.storage.attachments import ATTACHMENTS_OF_MESSAGE

EXPORT_COLUMNS = "id, user_id, status, storage_key, size, created_at, finished_at"


async def pending_of(user_id: int) -> Row | None:
    return await fetchrow(
        f"SELECT {EXPORT_COLUMNS} FROM account_exports WHERE user_id = $1 AND status = 'pending' ORDER BY id LIMIT 1",
        user_id,
    )


async def insert(user_id: int, storage_key: str) -> Row:
    """A pending export whose archive will be written under storage_key (fixed now, so a job
    that runs twice overwrites one object rather than leaving two)."""
    row = await fetchrow(
        f"""INSERT INTO account_exports (user_id, status, storage_key, created_at) VALUES ($1, 'pending', $2, now())
            RETURNING {EXPORT_COLUMNS}""",
        user_id,
        storage_key,
    )
    assert row is not None
    return row


async def get(export_id: int) -> Row | None:
    if not possible_id(export_id):
        return None
    return await fetchrow(f"SELECT {EXPORT_COLUMNS} FROM account_exports WHERE id = $1", export_id)


async def mark_ready(export_id: int, size: int) -> None:
    await execute(
        "UPDATE account_exports SET status = 'ready', size = $2, finished_at = now() WHERE id = $1 AND status = 'pending'",
        export_id,
        size,
    )


async def stale_pending(*, older_than_seconds: float, limit: int) -> list[int]:
    rows = await fetch(
        """SELECT id FROM account_exports WHERE status = 'pending'
             AND created_at < now() - make_interval(secs => $1) ORDER BY id LIMIT $2""",
        older_than_seconds,
        limit,
    )
    return [row["id"] for row in rows]


async def expired(*, days: float, limit: int) -> list[Row]:
    return await fetch(
        f"""SELECT {EXPORT_COLUMNS} FROM account_exports WHERE created_at < now() - make_interval(days => $1::int)
            ORDER BY id LIMIT $2""",
        int(days),
        limit,
    )


async def of_user(user_id: int) -> list[Row]:
    return await fetch(f"SELECT {EXPORT_COLUMNS} FROM account_exports WHERE user_id = $1", user_id)


async def delete_rows(export_ids: list[int]) -> None:
    await execute("DELETE FROM account_exports WHERE id = ANY($1::bigint[])", export_ids)


# --- what an archive holds -----------------------------------------------------------------------
async def chats_of(user_id: int) -> list[Row]:
    """The user's chats now, with its role and when it joined, and every member."""
    return await fetch(
        """SELECT c.id, c.type, c.title, c.created_at, cm.role, cm.joined_at,
                  (SELECT jsonb_agg(jsonb_build_object('user_id', o.user_id, 'username', u.username, 'role', o.role)
                                    ORDER BY o.joined_at, o.id)
                   FROM chat_members o JOIN users u ON u.id = o.user_id WHERE o.chat_id = c.id) AS members
           FROM chat_members cm JOIN chats c ON c.id = cm.chat_id
           WHERE cm.user_id = $1 ORDER BY c.id""",
        user_id,
    )


async def sent_messages(user_id: int, *, after_id: int, limit: int) -> list[Row]:
    """Every message the user sent (in any chat, also ones it left), by id, a page at a time."""
    return await fetch(
        f"""SELECT m.id, m.chat_id, m.seq, m.content, m.created_at, m.edited_at, m.is_deleted, m.reply_to_id,
                   m.mentions, {ATTACHMENTS_OF_MESSAGE} AS attachments
            FROM messages m WHERE m.sender_id = $1 AND m.id > $2 ORDER BY m.id LIMIT $3""",
        user_id,
        after_id,
        limit,
    )


async def uploads(user_id: int) -> list[Row]:
    return await fetch(
        """SELECT id, name, content_type, size, width, height, thumbnail_key, message_id, created_at
           FROM attachments WHERE uploader_id = $1 ORDER BY id""",
        user_id,
    )
