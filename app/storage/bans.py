"""Group moderation: bans (chat_bans) and admins' mutes (chat_members.send_blocked_until,
migration 13). The rules live in app/services/moderation.py; the send path reads the mute in
its own statement (app/storage/messages.py)."""

from __future__ import annotations

from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import Row, execute, fetch, fetchval


async def ban(
    chat_id: int, user_id: int, *, until: datetime | None, reason: str | None, by: int, conn: BaseDBAsyncClient
) -> None:
    """Ban, or replace the ban's end, reason and author."""
    await execute(
        """INSERT INTO chat_bans (chat_id, user_id, until, reason, by_id, created_at) VALUES ($1, $2, $3, $4, $5, now())
           ON CONFLICT (chat_id, user_id) DO UPDATE
           SET until = EXCLUDED.until, reason = EXCLUDED.reason, by_id = EXCLUDED.by_id, created_at = now()""",
        chat_id,
        user_id,
        until,
        reason,
        by,
        conn=conn,
    )


async def unban(chat_id: int, user_id: int, conn: BaseDBAsyncClient) -> bool:
    """True when a ban in force was lifted."""
    lifted = await fetchval(
        """WITH d AS (DELETE FROM chat_bans WHERE chat_id = $1 AND user_id = $2 RETURNING until)
           SELECT count(*) FROM d WHERE until IS NULL OR until > now()""",
        chat_id,
        user_id,
        conn=conn,
    )
    return bool(lifted)


async def banned_among(chat_id: int, user_ids: list[int], conn: BaseDBAsyncClient | None = None) -> set[int]:
    """Those of user_ids whose ban from chat_id is in force (an expired ban bars nobody)."""
    if not user_ids:
        return set()
    rows = await fetch(
        """SELECT user_id FROM chat_bans WHERE chat_id = $1 AND user_id = ANY($2::bigint[])
           AND (until IS NULL OR until > now())""",
        chat_id,
        user_ids,
        conn=conn,
    )
    return {row["user_id"] for row in rows}


async def bans(chat_id: int, *, after_user_id: int | None, limit: int) -> list[Row]:
    """The bans in force, by user id."""
    return await fetch(
        """SELECT user_id, until, reason, by_id FROM chat_bans
           WHERE chat_id = $1 AND (until IS NULL OR until > now()) AND ($2::bigint IS NULL OR user_id > $2)
           ORDER BY user_id LIMIT $3""",
        chat_id,
        after_user_id,
        limit,
    )


async def set_send_blocked(chat_id: int, user_id: int, until: datetime | None, conn: BaseDBAsyncClient) -> None:
    """An admin's mute of a member (None lifts it); the member's own notification mute
    (muted_until) is another column."""
    await execute(
        "UPDATE chat_members SET send_blocked_until = $3 WHERE chat_id = $1 AND user_id = $2",
        chat_id,
        user_id,
        until,
        conn=conn,
    )
