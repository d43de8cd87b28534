from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from app.db import Row, execute, fetch, fetchrow

USER_COLUMNS = "id, username, email, is_active, created_at, last_seen_at"


async def insert_user(*, username: str, email: str, password_hash: str) -> Row | None:
    """None when the username or email is taken (case-insensitive unique indexes)."""
    try:
        return await fetchrow(
            f"""INSERT INTO users (username, email, password_hash, is_active, created_at, inbox_seq)
                VALUES ($1, $2, $3, TRUE, now(), 0) RETURNING {USER_COLUMNS}""",
            username,
            email,
            password_hash,
        )
    except IntegrityError:
        return None


async def get_user(user_id: int) -> Row | None:
    return await fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE id = $1", user_id)


async def find_login(login: str) -> Row | None:
    if "\x00" in login:  # PostgreSQL text cannot hold NUL, so no name or email has one
        return None
    column = "email" if "@" in login else "username"
    return await fetchrow(
        f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE lower({column}) = lower($1)", login
    )


async def search_by_prefix(*, prefix: str, exclude_id: int, after: tuple[str, int] | None, limit: int) -> list[Row]:
    if "\x00" in prefix:  # PostgreSQL text cannot hold NUL, so no username starts with one
        return []
    pattern = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    args: list[Any] = [pattern, exclude_id, limit]
    cursor_sql = ""
    if after:
        cursor_sql = "AND (lower(username), id) > ($4, $5)"
        args += [after[0], after[1]]
    return await fetch(
        f"""SELECT {USER_COLUMNS} FROM users
            WHERE lower(username) LIKE $1 AND id <> $2 AND is_active {cursor_sql}
            ORDER BY lower(username), id LIMIT $3""",
        *args,
    )


async def set_last_seen(user_id: int, at: datetime) -> None:
    await execute("UPDATE users SET last_seen_at = $2 WHERE id = $1", user_id, at)


async def get_password_hash(user_id: int) -> Row | None:
    return await fetchrow(f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE id = $1", user_id)


async def set_password_hash(user_id: int, password_hash: str, conn: BaseDBAsyncClient) -> None:
    await execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash, conn=conn)


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
