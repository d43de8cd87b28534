from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import Row, execute, fetch, fetchrow
from app.ids import possible_id

CHAT_COLUMNS = (
    "c.id, c.type, c.title, c.created_at, c.last_seq, c.last_activity_at, c.message_ttl, c.history_visible, c.slow_mode"
)


async def membership(chat_id: int, user_id: int, conn: BaseDBAsyncClient | None = None) -> Row | None:
    if not possible_id(chat_id, user_id):
        return None
    return await fetchrow(
        """SELECT cm.role, cm.read_seq, cm.delivered_seq, cm.send_blocked_until, cm.visible_after_seq, c.type,
                  c.last_seq, c.slow_mode
           FROM chat_members cm JOIN chats c ON c.id = cm.chat_id
           WHERE cm.chat_id = $1 AND cm.user_id = $2""",
        chat_id,
        user_id,
        conn=conn,
    )


async def insert_chat(
    *, type: str, title: str | None, direct_key: str | None, conn: BaseDBAsyncClient
) -> Row | None:
    """None when a direct chat with that key already exists."""
    return await fetchrow(
        """INSERT INTO chats (type, title, direct_key, created_at, last_seq, last_activity_at)
           VALUES ($1, $2, $3, now(), 0, now())
           ON CONFLICT (direct_key) DO NOTHING RETURNING id""",
        type,
        title,
        direct_key,
        conn=conn,
    )


async def chat_by_direct_key(direct_key: str) -> Row | None:
    return await fetchrow("SELECT id FROM chats WHERE direct_key = $1", direct_key)


async def add_members(chat_id: int, members: list[tuple[int, str]], conn: BaseDBAsyncClient) -> list[int]:
    """Insert (user_id, role) pairs not yet members; returns the user ids added. In a chat whose
    history is hidden, each sees (and has unread) only what comes after this moment."""
    if not members:
        return []
    rows = await fetch(
        """INSERT INTO chat_members (chat_id, user_id, role, joined_at, read_seq, delivered_seq, visible_after_seq)
           SELECT $1, m.user_id, m.role, now(), h.after, h.after, h.after
           FROM unnest($2::bigint[], $3::text[]) AS m(user_id, role),
                (SELECT CASE WHEN history_visible THEN 0 ELSE last_seq END AS after FROM chats WHERE id = $1) h
           ON CONFLICT (chat_id, user_id) DO NOTHING RETURNING user_id""",
        chat_id,
        [user_id for user_id, _ in members],
        [role for _, role in members],
        conn=conn,
    )
    return [row["user_id"] for row in rows]


async def remove_member(chat_id: int, user_id: int, conn: BaseDBAsyncClient) -> None:
    await execute("DELETE FROM chat_members WHERE chat_id = $1 AND user_id = $2", chat_id, user_id, conn=conn)


async def promote_successor(chat_id: int, conn: BaseDBAsyncClient) -> None:
    """The group outlives its owner: the longest-standing admin, else member, becomes owner."""
    await execute(
        """UPDATE chat_members SET role = 'owner' WHERE id = (
               SELECT id FROM chat_members WHERE chat_id = $1
               ORDER BY (role = 'admin') DESC, joined_at, id LIMIT 1)
           AND NOT EXISTS (SELECT 1 FROM chat_members WHERE chat_id = $1 AND role = 'owner')""",
        chat_id,
        conn=conn,
    )


async def touch_chat(chat_id: int, conn: BaseDBAsyncClient) -> None:
    await execute("UPDATE chats SET last_activity_at = now() WHERE id = $1", chat_id, conn=conn)


async def member_pairs(pairs: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """Which (chat_id, user_id) pairs are memberships now."""
    if not pairs:
        return set()
    rows = await fetch(
        """SELECT cm.chat_id, cm.user_id FROM unnest($1::bigint[], $2::bigint[]) AS p(chat_id, user_id)
           JOIN chat_members cm ON cm.chat_id = p.chat_id AND cm.user_id = p.user_id""",
        [chat_id for chat_id, _ in pairs],
        [user_id for _, user_id in pairs],
    )
    return {(row["chat_id"], row["user_id"]) for row in rows}


async def hidden_floors(pairs: list[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """visible_after_seq of those (chat_id, user_id) memberships that have one (they joined a
    chat whose history is hidden)."""
    if not pairs:
        return {}
    rows = await fetch(
        """SELECT cm.chat_id, cm.user_id, cm.visible_after_seq FROM unnest($1::bigint[], $2::bigint[]) AS p(chat_id, user_id)
           JOIN chat_members cm ON cm.chat_id = p.chat_id AND cm.user_id = p.user_id
           WHERE cm.visible_after_seq > 0""",
        [chat_id for chat_id, _ in pairs],
        [user_id for _, user_id in pairs],
    )
    return {(row["chat_id"], row["user_id"]): int(row["visible_after_seq"]) for row in rows}


async def presence_announcement(user_id: int, max_group: int) -> Row | None:
    """What an announcement of user_id's presence needs, in one round trip (every connect and
    disconnect makes one): its `last_seen_at`, and its `audience`, the members of the chats it
    shares with them, except chats larger than max_group (LARGE_GROUP_SIZE) and those who
    blocked user_id. None when the user is gone."""
    return await fetchrow(
        """SELECT u.last_seen_at, ARRAY(
               SELECT DISTINCT other.user_id FROM chat_members mine
               JOIN chat_members other ON other.chat_id = mine.chat_id AND other.user_id <> mine.user_id
               WHERE mine.user_id = u.id
                 AND (SELECT count(*) FROM chat_members n WHERE n.chat_id = mine.chat_id) <= $2
                 AND NOT EXISTS (
                     SELECT 1 FROM user_blocks b WHERE b.blocked_id = u.id AND b.blocker_id = other.user_id
                 )
           ) AS audience
           FROM users u WHERE u.id = $1""",
        user_id,
        max_group,
    )


async def member_ids(chat_id: int, conn: BaseDBAsyncClient | None = None) -> list[int]:
    rows = await fetch("SELECT user_id FROM chat_members WHERE chat_id = $1", chat_id, conn=conn)
    return [row["user_id"] for row in rows]


async def chats_of_user(
    *, user_id: int, after: tuple[datetime, int] | None, limit: int
) -> list[Row]:
    args: list[Any] = [user_id, limit]
    cursor_sql = ""
    if after:
        cursor_sql = "AND (c.last_activity_at, c.id) < ($3, $4)"
        args += list(after)
    return await fetch(
        f"""SELECT {CHAT_COLUMNS}, cm.read_seq, cm.muted_until, cm.archived, cm.visible_after_seq
            FROM chat_members cm JOIN chats c ON c.id = cm.chat_id
            WHERE cm.user_id = $1 {cursor_sql}
            ORDER BY c.last_activity_at DESC, c.id DESC LIMIT $2""",
        *args,
    )


async def chats_for_viewers(pairs: list[tuple[int, int]]) -> list[Row]:
    """(chat_id, viewer) pairs to chat rows with the viewer's read_seq (0 for a former member)."""
    return await fetch(
        f"""SELECT {CHAT_COLUMNS}, coalesce(cm.read_seq, 0) AS read_seq, p.user_id AS viewer_id,
                   cm.muted_until, coalesce(cm.archived, FALSE) AS archived,
                   coalesce(cm.visible_after_seq, 0) AS visible_after_seq, cm.user_id IS NOT NULL AS is_member
            FROM unnest($1::bigint[], $2::bigint[]) AS p(chat_id, user_id)
            JOIN chats c ON c.id = p.chat_id
            LEFT JOIN chat_members cm ON cm.chat_id = p.chat_id AND cm.user_id = p.user_id""",
        [chat_id for chat_id, _ in pairs],
        [user_id for _, user_id in pairs],
    )


async def members_of(chat_ids: list[int]) -> list[Row]:
    return await fetch(
        """SELECT cm.chat_id, cm.user_id, u.username, cm.role, cm.send_blocked_until FROM chat_members cm
           JOIN users u ON u.id = cm.user_id WHERE cm.chat_id = ANY($1::bigint[])
           ORDER BY cm.chat_id, cm.joined_at, cm.id""",
        chat_ids,
    )


async def unread_counts(pairs: list[tuple[int, int, int, int]]) -> dict[tuple[int, int], tuple[int, int]]:
    """(chat_id, user_id, read_seq, last_seq) to (unread messages, unread mentions of the
    user): others' live messages after read_seq, up to the last_seq the caller rendered (a
    message committing meanwhile is not counted before it is shown)."""
    if not pairs:
        return {}
    rows = await fetch(
        """SELECT p.chat_id, p.user_id, u.unread, u.mentions
           FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[])
             AS p(chat_id, user_id, read_seq, last_seq)
           CROSS JOIN LATERAL (
               SELECT count(*) AS unread, count(*) FILTER (WHERE p.user_id = ANY(m.mentions)) AS mentions
               FROM messages m
               WHERE m.chat_id = p.chat_id AND m.seq > p.read_seq AND m.seq <= p.last_seq
                 AND m.sender_id <> p.user_id AND NOT m.is_deleted) u""",
        [p[0] for p in pairs],
        [p[1] for p in pairs],
        [p[2] for p in pairs],
        [p[3] for p in pairs],
    )
    return {(row["chat_id"], row["user_id"]): (int(row["unread"]), int(row["mentions"])) for row in rows}


CHAT_SETTINGS = ("title", "message_ttl", "history_visible", "slow_mode")


async def update_chat(chat_id: int, changes: dict[str, Any], conn: BaseDBAsyncClient) -> None:
    """Set the CHAT_SETTINGS present in `changes` (a title counts as activity)."""
    names = [name for name in CHAT_SETTINGS if name in changes]
    if not names:
        return
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=2))
    activity = ", last_activity_at = now()" if "title" in changes else ""
    await execute(f"UPDATE chats SET {assignments}{activity} WHERE id = $1", chat_id, *[changes[n] for n in names], conn=conn)


async def set_role(chat_id: int, user_id: int, role: str, conn: BaseDBAsyncClient) -> None:
    await execute(
        "UPDATE chat_members SET role = $3 WHERE chat_id = $1 AND user_id = $2", chat_id, user_id, role, conn=conn
    )


async def lock_chat(chat_id: int, conn: BaseDBAsyncClient) -> None:
    """Serialise changes of roles and ownership in one chat (two owners must never appear)."""
    await execute("SELECT 1 FROM chats WHERE id = $1 FOR NO KEY UPDATE", chat_id, conn=conn)


async def update_settings(chat_id: int, user_id: int, changes: dict[str, Any], conn: BaseDBAsyncClient) -> None:
    """The member's own settings; `changes` holds only the fields the caller sent."""
    allowed = [name for name in ("muted_until", "archived") if name in changes]
    if not allowed:
        return
    assignments = ", ".join(f"{name} = ${i + 3}" for i, name in enumerate(allowed))
    await execute(
        f"UPDATE chat_members SET {assignments} WHERE chat_id = $1 AND user_id = $2",
        chat_id,
        user_id,
        *[changes[name] for name in allowed],
        conn=conn,
    )


async def existing_user_ids(user_ids: list[int]) -> set[int]:
    rows = await fetch("SELECT id FROM users WHERE id = ANY($1::bigint[]) AND is_active", user_ids)
    return {row["id"] for row in rows}


async def chats_of(user_id: int, conn: BaseDBAsyncClient) -> list[int]:
    rows = await fetch("SELECT chat_id FROM chat_members WHERE user_id = $1 ORDER BY chat_id", user_id, conn=conn)
    return [row["chat_id"] for row in rows]
