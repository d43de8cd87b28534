"""An account's life beyond its profile: erasure (and its resumable wipe) and administration."""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import Row, execute, fetch, fetchrow
from app.storage.users import ACCOUNT_COLUMNS, prefix_pattern


async def lock_user(user_id: int, conn: BaseDBAsyncClient) -> Row | None:
    return await fetchrow(
        "SELECT id, username, is_active, deleted_at FROM users WHERE id = $1 FOR UPDATE", user_id, conn=conn
    )


async def erase_profile(user_id: int, conn: BaseDBAsyncClient) -> None:
    """Free the username and email, drop the profile and the password, mark the erasure
    (its messages are wiped by `wipe_messages`, its files and inbox after, until
    `finish_erasure`)."""
    await execute(
        """UPDATE users SET username = NULL, email = NULL, display_name = NULL, display_name_key = NULL, avatar_id = NULL,
                  password_hash = '', is_active = FALSE, is_admin = FALSE, last_seen_at = NULL,
                  deleted_at = now()
           WHERE id = $1""",
        user_id,
        conn=conn,
    )
    await execute("DELETE FROM user_blocks WHERE blocker_id = $1 OR blocked_id = $1", user_id, conn=conn)
    await execute("DELETE FROM devices WHERE user_id = $1", user_id, conn=conn)
    await execute("DELETE FROM scheduled_messages WHERE author_id = $1", user_id, conn=conn)


async def wipe_messages(user_id: int, limit: int | None, conn: BaseDBAsyncClient | None = None) -> list[Row]:
    """In one statement (committed on its own unless `conn` is a transaction): up to `limit`
    (None: all) of the user's live messages keep their seq with content '', is_deleted, no
    reactions, mentions, pin or client id, each with its `message_deleted` outbox row. Rows
    another transaction holds are skipped. Returns (chat_id, n) of what it wiped: empty when
    nothing is left to take."""
    return await fetch(
        """WITH w AS (
               UPDATE messages AS m SET content = '', is_deleted = TRUE, reactions = '[]', mentions = '{}',
                      pinned_at = NULL, client_msg_id = NULL
               WHERE m.id IN (SELECT id FROM messages WHERE sender_id = $1 AND NOT is_deleted
                              ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
               RETURNING m.id, m.chat_id),
           o AS (
               INSERT INTO outbox (type, chat_id, payload, created_at)
               SELECT 'message_deleted', w.chat_id, jsonb_build_object('message_id', w.id), now() FROM w)
           SELECT chat_id, count(*) AS n FROM w GROUP BY chat_id""",
        user_id,
        limit,
        conn=conn,
    )


async def drop_inbox(user_id: int, limit: int) -> int:
    return await execute(
        "DELETE FROM inbox_events WHERE id IN (SELECT id FROM inbox_events WHERE user_id = $1 LIMIT $2)",
        user_id,
        limit,
    )


async def finish_erasure(user_id: int) -> bool:
    """Mark the erasure complete, only once no live message and no upload of it is left."""
    row = await fetchrow(
        """UPDATE users SET erased_at = now()
           WHERE id = $1 AND deleted_at IS NOT NULL AND erased_at IS NULL
             AND NOT EXISTS (SELECT 1 FROM messages WHERE sender_id = $1 AND NOT is_deleted)
             AND NOT EXISTS (SELECT 1 FROM attachments WHERE uploader_id = $1)
           RETURNING id""",
        user_id,
    )
    return row is not None


async def pending_erasures(limit: int) -> list[int]:
    """Erased accounts whose wipe is not finished (through the partial index of migration 7)."""
    rows = await fetch(
        "SELECT id FROM users WHERE deleted_at IS NOT NULL AND erased_at IS NULL ORDER BY id LIMIT $1", limit
    )
    return [row["id"] for row in rows]


# --- administration -----------------------------------------------------------------------------
async def set_admin(username: str, is_admin: bool) -> Row | None:
    """Grant or revoke administration by username (case-insensitive); None: no such account."""
    if "\x00" in username:
        return None
    return await fetchrow(
        "UPDATE users SET is_admin = $2 WHERE lower(username) = lower($1) AND deleted_at IS NULL RETURNING id, username",
        username,
        is_admin,
    )


async def set_active(user_id: int, is_active: bool, conn: BaseDBAsyncClient) -> bool:
    """False when there is no such account (or it was erased)."""
    row = await fetchrow(
        "UPDATE users SET is_active = $2 WHERE id = $1 AND deleted_at IS NULL RETURNING id", user_id, is_active, conn=conn
    )
    return row is not None


async def id_of(username: str) -> int | None:
    if "\x00" in username:
        return None
    row = await fetchrow("SELECT id FROM users WHERE lower(username) = lower($1) AND deleted_at IS NULL", username)
    return int(row["id"]) if row else None


async def is_admin(user_id: int) -> bool:
    row = await fetchrow("SELECT is_admin AND is_active AS admin FROM users WHERE id = $1", user_id)
    return bool(row and row["admin"])


async def search_accounts(*, prefix: str | None, after_id: int | None, limit: int) -> list[Row]:
    """Accounts (deactivated too, never erased ones) whose username, display name or email
    starts with `prefix` (case-insensitive; every account without one), by id."""
    pattern = None
    if prefix is not None:
        if "\x00" in prefix:
            return []
        pattern = prefix_pattern(prefix)
    return await fetch(
        f"""SELECT {ACCOUNT_COLUMNS} FROM users
            WHERE deleted_at IS NULL AND ($1::text IS NULL OR lower(username) LIKE $1 OR display_name_key LIKE $1
                                          OR lower(email) LIKE $1)
              AND ($2::bigint IS NULL OR id > $2)
            ORDER BY id LIMIT $3""",
        pattern,
        after_id,
        limit,
    )
