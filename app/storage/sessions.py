from __future__ import annotations

import uuid
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import Row, execute, fetch, fetchrow, transaction

SESSION_COLUMNS = "id, user_id, created_at, last_seen_at, expires_at, revoked_at, ip, user_agent"


async def create_session(
    *, user_id: int, expires_at: datetime, token_hash: str, ip: str | None, user_agent: str | None
) -> uuid.UUID:
    session_id = uuid.uuid4()
    async with transaction() as conn:
        await execute(
            """INSERT INTO auth_sessions (id, user_id, created_at, last_seen_at, expires_at, ip, user_agent)
               VALUES ($1, $2, now(), now(), $3, $4, $5)""",
            session_id,
            user_id,
            expires_at,
            ip,
            user_agent,
            conn=conn,
        )
        await insert_refresh_token(session_id=session_id, token_hash=token_hash, conn=conn)
    return session_id


async def insert_refresh_token(*, session_id: uuid.UUID, token_hash: str, conn: BaseDBAsyncClient) -> None:
    await execute(
        "INSERT INTO refresh_tokens (session_id, token_hash, created_at) VALUES ($1, $2, now())",
        session_id,
        token_hash,
        conn=conn,
    )


async def lock_refresh_token(token_hash: str, conn: BaseDBAsyncClient) -> Row | None:
    return await fetchrow(
        """SELECT t.id, t.spent_at, s.id AS session_id, s.user_id, s.revoked_at, s.expires_at,
                  u.is_active
           FROM refresh_tokens t
           JOIN auth_sessions s ON s.id = t.session_id
           JOIN users u ON u.id = s.user_id
           WHERE t.token_hash = $1
           FOR UPDATE OF t, s""",
        token_hash,
        conn=conn,
    )


async def spend_refresh_token(token_id: int, conn: BaseDBAsyncClient) -> None:
    await execute("UPDATE refresh_tokens SET spent_at = now() WHERE id = $1", token_id, conn=conn)


async def revoke_session(session_id: uuid.UUID, conn: BaseDBAsyncClient | None = None) -> None:
    await execute(
        "UPDATE auth_sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
        session_id,
        conn=conn,
    )


async def get_session(session_id: uuid.UUID) -> Row | None:
    return await fetchrow(f"SELECT {SESSION_COLUMNS} FROM auth_sessions WHERE id = $1", session_id)


async def sessions_state(session_ids: list[uuid.UUID]) -> list[Row]:
    """id, expires_at, revoked_at of those of these sessions that exist (one query)."""
    return await fetch(
        "SELECT id, expires_at, revoked_at FROM auth_sessions WHERE id = ANY($1::uuid[])", session_ids
    )


async def live_sessions(user_id: int) -> list[Row]:
    """The user's sessions that are neither revoked nor past their refresh lifetime."""
    return await fetch(
        f"""SELECT {SESSION_COLUMNS} FROM auth_sessions
            WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
            ORDER BY last_seen_at DESC, created_at DESC""",
        user_id,
    )


async def revoke_live_session(*, session_id: uuid.UUID, user_id: int) -> bool:
    """Revoke one of the user's live sessions; False when it is not one (absent, another
    user's, already ended)."""
    row = await fetchrow(
        """UPDATE auth_sessions SET revoked_at = now()
           WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()
           RETURNING id""",
        session_id,
        user_id,
    )
    return row is not None


async def revoke_other_sessions(*, user_id: int, keep: uuid.UUID, conn: BaseDBAsyncClient) -> list[uuid.UUID]:
    rows = await fetch(
        """UPDATE auth_sessions SET revoked_at = now()
           WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL
           RETURNING id""",
        user_id,
        keep,
        conn=conn,
    )
    return [row["id"] for row in rows]


async def revoke_all_sessions(user_id: int, conn: BaseDBAsyncClient) -> list[uuid.UUID]:
    rows = await fetch(
        "UPDATE auth_sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL RETURNING id",
        user_id,
        conn=conn,
    )
    return [row["id"] for row in rows]


async def touch(session_id: uuid.UUID) -> None:
    await execute("UPDATE auth_sessions SET last_seen_at = now() WHERE id = $1", session_id)


async def record_use(*, session_id: uuid.UUID, ip: str | None, user_agent: str | None, conn: BaseDBAsyncClient) -> None:
    """A refresh: the session was used now, from this address and client."""
    await execute(
        "UPDATE auth_sessions SET last_seen_at = now(), ip = $2, user_agent = $3 WHERE id = $1",
        session_id,
        ip,
        user_agent,
        conn=conn,
    )


async def recently_revoked(since: datetime) -> list[Row]:
    return await fetch("SELECT id FROM auth_sessions WHERE revoked_at >= $1", since)
