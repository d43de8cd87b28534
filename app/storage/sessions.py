from __future__ import annotations

import uuid
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import Row, execute, fetch, fetchrow, transaction


async def create_session(*, user_id: int, expires_at: datetime, token_hash: str) -> uuid.UUID:
    session_id = uuid.uuid4()
    async with transaction() as conn:
        await execute(
            "INSERT INTO auth_sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, now(), $3)",
            session_id,
            user_id,
            expires_at,
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
    return await fetchrow(
        "SELECT id, user_id, revoked_at, expires_at FROM auth_sessions WHERE id = $1", session_id
    )


async def recently_revoked(since: datetime) -> list[Row]:
    return await fetch("SELECT id FROM auth_sessions WHERE revoked_at >= $1", since)
