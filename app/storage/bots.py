"""Bots: users with `is_bot`, owned by the user who made them, and their webhook rows."""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import Row, execute, fetch, fetchrow, fetchval
from app.storage.users import ACCOUNT_COLUMNS, name_key

# A live bot with its webhook as GET /bots shows it (`w_` prefixed; `w_pending`: inbox events
# after the cursor), for a WHERE on `users` to follow.
_BOTS = f"""SELECT {ACCOUNT_COLUMNS}, w.url AS w_url, w.enabled AS w_enabled, w.cursor AS w_cursor,
           greatest(users.inbox_seq - w.cursor, 0) AS w_pending, w.last_success_at AS w_last_success_at,
           w.last_error AS w_last_error, w.disabled_reason AS w_disabled_reason
    FROM users LEFT JOIN webhooks w ON w.bot_id = users.id
    WHERE users.bot_owner_id = $1 AND users.is_bot AND users.deleted_at IS NULL"""


async def lock_owner(owner_id: int, conn: BaseDBAsyncClient) -> None:
    await execute("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", owner_id, conn=conn)


async def count_owned(owner_id: int, conn: BaseDBAsyncClient) -> int:
    return int(await fetchval("SELECT count(*) FROM users WHERE bot_owner_id = $1 AND deleted_at IS NULL", owner_id, conn=conn))


async def insert_bot(
    *, owner_id: int, username: str, display_name: str | None, secret: str, conn: BaseDBAsyncClient
) -> Row | None:
    """The bot's user row and its webhook row (no URL yet); None when the username is taken.
    A bot has no password and no email: nobody can log in as it, only present its token."""
    row = await fetchrow(
        f"""INSERT INTO users (username, email, password_hash, is_active, is_admin, created_at, inbox_seq,
                               is_bot, bot_owner_id, display_name, display_name_key)
            VALUES ($1, NULL, '', TRUE, FALSE, now(), 0, TRUE, $2, $3, $4)
            ON CONFLICT DO NOTHING RETURNING {ACCOUNT_COLUMNS}""",
        username,
        owner_id,
        display_name,
        name_key(display_name) if display_name else None,
        conn=conn,
    )
    if row is None:
        return None
    await execute(
        """INSERT INTO webhooks (bot_id, url, secret, enabled, cursor, attempt, next_attempt_at)
           VALUES ($1, NULL, $2, TRUE, 0, 0, now())""",
        row["id"],
        secret,
        conn=conn,
    )
    return row


async def owned(owner_id: int, bot_id: int, conn: BaseDBAsyncClient | None = None) -> Row | None:
    """The live bot `bot_id` if `owner_id` owns it, with its webhook's columns."""
    return await fetchrow(f"{_BOTS} AND users.id = $2", owner_id, bot_id, conn=conn)


async def page_owned(owner_id: int, *, after_id: int | None, limit: int) -> list[Row]:
    return await fetch(
        f"{_BOTS} AND ($2::bigint IS NULL OR users.id > $2) ORDER BY users.id LIMIT $3", owner_id, after_id, limit
    )


async def set_display_name(bot_id: int, display_name: str, conn: BaseDBAsyncClient) -> None:
    await execute(
        "UPDATE users SET display_name = $2, display_name_key = $3 WHERE id = $1",
        bot_id,
        display_name,
        name_key(display_name),
        conn=conn,
    )


async def retire(bot_id: int, conn: BaseDBAsyncClient) -> None:
    """The bot is gone: its name is free, it shows as a deleted account, its messages stay
    (erased_at is set at once: there is nothing of it for the erase job to wipe)."""
    await execute(
        """UPDATE users SET username = NULL, display_name = NULL, display_name_key = NULL, avatar_id = NULL,
                  is_active = FALSE, deleted_at = now(), erased_at = now()
           WHERE id = $1""",
        bot_id,
        conn=conn,
    )
    await execute("DELETE FROM webhooks WHERE bot_id = $1", bot_id, conn=conn)
    await execute("DELETE FROM devices WHERE user_id = $1", bot_id, conn=conn)

