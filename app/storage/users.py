from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from app.db import Row, execute, fetch, fetchrow

USER_COLUMNS = (
    "id, username, email, is_active, is_admin, is_bot, display_name, avatar_id, deleted_at, created_at, last_seen_at"
)
# The account as its owner sees it: also the avatar's Attachment (app/services/views.py).
ACCOUNT_COLUMNS = f"""{USER_COLUMNS}, (SELECT jsonb_build_object(
        'id', a.id, 'name', a.name, 'content_type', a.content_type, 'size', a.size, 'width', a.width,
        'height', a.height, 'has_thumbnail', a.thumbnail_key IS NOT NULL)
    FROM attachments a WHERE a.id = users.avatar_id) AS avatar"""


def name_key(text: str) -> str:
    """What name search compares, folded here, not by PostgreSQL's lower(), which follows the
    database's locale (under C it lowers ASCII only): the same key for "Анна" and "АННА"."""
    return unicodedata.normalize("NFKC", text).casefold()


def prefix_pattern(prefix: str) -> str:
    """A LIKE pattern for keys starting with `prefix` (folded, wildcards escaped)."""
    return name_key(prefix).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def insert_user(*, username: str, email: str, password_hash: str) -> Row | None:
    """None when the username or email is taken (case-insensitive unique indexes)."""
    try:
        return await fetchrow(
            f"""INSERT INTO users (username, email, password_hash, is_active, is_admin, created_at, inbox_seq)
                VALUES ($1, $2, $3, TRUE, FALSE, now(), 0) RETURNING {ACCOUNT_COLUMNS}""",
            username,
            email,
            password_hash,
        )
    except IntegrityError:
        return None


async def get_user(user_id: int) -> Row | None:
    return await fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE id = $1", user_id)


async def get_account(user_id: int, conn: BaseDBAsyncClient | None = None) -> Row | None:
    """The user's row with its avatar's attachment (`avatar`, jsonb or null)."""
    return await fetchrow(f"SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = $1", user_id, conn=conn)


async def get_users(user_ids: list[int]) -> list[Row]:
    return await fetch(f"SELECT {USER_COLUMNS} FROM users WHERE id = ANY($1::bigint[]) ORDER BY id", user_ids)


async def by_username(username: str) -> Row | None:
    if "\x00" in username:
        return None
    return await fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE lower(username) = lower($1)", username)


async def update_profile(user_id: int, changes: dict[str, Any], conn: BaseDBAsyncClient) -> None:
    """Set display_name and/or avatar_id (only the keys present in `changes`)."""
    allowed: list[str] = [name for name in ("display_name", "avatar_id") if name in changes]
    if not allowed:
        return
    if "display_name" in changes:
        name = changes["display_name"]
        changes = {**changes, "display_name_key": name_key(name) if name is not None else None}
        allowed.append("display_name_key")
    assignments = ", ".join(f"{name} = ${i + 2}" for i, name in enumerate(allowed))
    await execute(f"UPDATE users SET {assignments} WHERE id = $1", user_id, *[changes[n] for n in allowed], conn=conn)


async def find_login(login: str) -> Row | None:
    if "\x00" in login:  # PostgreSQL text cannot hold NUL, so no name or email has one
        return None
    column = "email" if "@" in login else "username"
    return await fetchrow(
        f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE lower({column}) = lower($1)", login
    )


async def search_by_prefix(*, prefix: str, exclude_id: int, after: tuple[str, int] | None, limit: int) -> list[Row]:
    if "\x00" in prefix:  # PostgreSQL text cannot hold NUL, so no name starts with one
        return []
    args: list[Any] = [prefix_pattern(prefix), exclude_id, limit]
    cursor_sql = ""
    if after:
        cursor_sql = "AND (lower(username), id) > ($4, $5)"
        args += [after[0], after[1]]
    # Username or display name; erased accounts have neither, deactivated ones are left out.
    return await fetch(
        f"""SELECT {USER_COLUMNS} FROM users
            WHERE (lower(username) LIKE $1 OR display_name_key LIKE $1) AND id <> $2 AND is_active
              {cursor_sql}
            ORDER BY lower(username), id LIMIT $3""",
        *args,
    )


async def set_last_seen(user_id: int, at: datetime) -> None:
    await execute("UPDATE users SET last_seen_at = $2 WHERE id = $1", user_id, at)


async def get_password_hash(user_id: int) -> Row | None:
    return await fetchrow(f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE id = $1", user_id)


async def set_password_hash(user_id: int, password_hash: str, conn: BaseDBAsyncClient) -> None:
    await execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash, conn=conn)


async def contacts(user_id: int) -> list[int]:
    """Everyone who shares a chat with user_id (the audience of its profile changes)."""
    rows = await fetch(
        """SELECT DISTINCT other.user_id FROM chat_members mine
           JOIN chat_members other ON other.chat_id = mine.chat_id AND other.user_id <> mine.user_id
           WHERE mine.user_id = $1""",
        user_id,
    )
    return [row["user_id"] for row in rows]


async def sharing_a_chat(viewer_id: int, user_ids: list[int]) -> set[int]:
    """Those of user_ids who share at least one chat with viewer_id (one query)."""
    if not user_ids:
        return set()
    rows = await fetch(
        """SELECT DISTINCT other.user_id FROM chat_members mine
           JOIN chat_members other ON other.chat_id = mine.chat_id
           WHERE mine.user_id = $1 AND other.user_id = ANY($2::bigint[])""",
        viewer_id,
        user_ids,
    )
    return {row["user_id"] for row in rows}
