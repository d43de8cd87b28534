"""Blocks between users: who stopped whom (the rules live in the services that read these)."""

from __future__ import annotations

from app.db import Row, execute, fetch, fetchval


async def block(blocker_id: int, blocked_id: int) -> None:
    """Idempotent: blocking again keeps the first block."""
    await execute(
        """INSERT INTO user_blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, now())
           ON CONFLICT (blocker_id, blocked_id) DO NOTHING""",
        blocker_id,
        blocked_id,
    )


async def unblock(blocker_id: int, blocked_id: int) -> None:
    await execute("DELETE FROM user_blocks WHERE blocker_id = $1 AND blocked_id = $2", blocker_id, blocked_id)


async def blockers_of(blocked_id: int, among: list[int]) -> set[int]:
    """Those of `among` who blocked blocked_id (one query, through the (blocked, blocker) index)."""
    if not among:
        return set()
    rows = await fetch(
        "SELECT blocker_id FROM user_blocks WHERE blocked_id = $1 AND blocker_id = ANY($2::bigint[])",
        blocked_id,
        among,
    )
    return {row["blocker_id"] for row in rows}


async def blocked_by(blocker_id: int, among: list[int]) -> set[int]:
    """Those of `among` whom blocker_id blocked."""
    if not among:
        return set()
    rows = await fetch(
        "SELECT blocked_id FROM user_blocks WHERE blocker_id = $1 AND blocked_id = ANY($2::bigint[])",
        blocker_id,
        among,
    )
    return {row["blocked_id"] for row in rows}


async def blocked_in_direct_chat(chat_id: int, sender_id: int) -> bool:
    """True when chat_id is a direct chat whose other member blocked sender_id."""
    return bool(
        await fetchval(
            """SELECT EXISTS (SELECT 1 FROM chats c
                   JOIN chat_members cm ON cm.chat_id = c.id AND cm.user_id <> $2
                   JOIN user_blocks b ON b.blocker_id = cm.user_id AND b.blocked_id = $2
                   WHERE c.id = $1 AND c.type = 'direct')""",
            chat_id,
            sender_id,
        )
    )


async def page(blocker_id: int, *, before: int | None, limit: int) -> list[Row]:
    """The users blocker_id blocked, latest block first, with the block's id (`block_id`)."""
    return await fetch(
        """SELECT b.id AS block_id, u.id, u.username, u.email, u.is_active, u.is_admin, u.is_bot, u.display_name,
                  u.avatar_id, u.deleted_at, u.created_at, u.last_seen_at
           FROM user_blocks b JOIN users u ON u.id = b.blocked_id
           WHERE b.blocker_id = $1 AND ($2::bigint IS NULL OR b.id < $2)
           ORDER BY b.id DESC LIMIT $3""",
        blocker_id,
        before,
        limit,
    )
