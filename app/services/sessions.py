"""Login sessions and their tokens: opening one, refresh rotation with reuse detection,
logout, the caller's session list, revoking, verifying access tokens, and WebSocket tickets.

Access tokens are short-lived JWTs naming a session (`sid`). Revoking a session writes
PostgreSQL (the truth) and a Redis key that lives as long as any access token of it could,
so each request checks revocation with one Redis round trip and no PostgreSQL query.

A bot's token is a JWT of type "bot" naming a session of the bot's own, without expiry: it
ends only when that session is revoked (rotation, the bot's deletion). Its revocation is
checked in Redis like any session's and, past the Redis key's lifetime, against PostgreSQL
(`_require_live_bot_session`), so a revoked bot token never comes back.

A session ends when it is revoked (logout, DELETE /auth/sessions/{id}, refresh reuse, a
password change) or when its refresh lifetime (`expires_at`) is over; its sockets are then
closed with 4401 (`revoked_among`, the gateway's sweep). The access token's own expiry after
a handshake does not end anything.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from redis.asyncio import Redis

from app import keys
from app.config import Settings
from app.db import transaction
from app.errors import NotFound, Unauthorized
from app.ids import possible_id
from app.realtime.envelopes import SessionRevoked
from app.services.views import public_session
from app.storage import sessions as session_store
from app.storage import users as user_store

log = logging.getLogger(__name__)

TICKET_TTL = 30
ACTIVE_CACHE_SECONDS = 30.0
# A session's last_seen_at is written at most this often per session and process.
TOUCH_INTERVAL = 60.0
USER_AGENT_MAX = 256
BOT_SESSION_END = datetime(9999, 1, 1, tzinfo=UTC)  # a bot's session lasts until it is revoked
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user and the login session the token belongs to."""

    user_id: int
    session_id: uuid.UUID
    is_bot: bool = False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user_agent(value: str | None) -> str | None:
    if not value:
        return None
    return _CONTROL.sub("", value)[:USER_AGENT_MAX] or None


class SessionService:
    def __init__(self, settings: Settings, redis: Redis) -> None:
        assert settings.secret_key
        self._key = settings.secret_key
        self._settings = settings
        self._redis = redis
        self._channels = keys.Channels.of(redis)
        self._active_until: dict[int, float] = {}
        # Sessions' refresh lifetime (epoch seconds), learnt at WebSocket handshakes, so the
        # gateway's sweep tells expired sessions apart without a PostgreSQL query.
        self._session_expiry: dict[uuid.UUID, float] = {}
        self._next_touch: dict[uuid.UUID, float] = {}
        self._bot_session_until: dict[uuid.UUID, float] = {}

    # --- issuing -----------------------------------------------------------------------------
    def _access_token(self, user_id: int, session_id: uuid.UUID) -> str:
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "sid": str(session_id),
            "jti": uuid.uuid4().hex,
            "type": "access",
            "iat": now,
            "exp": now + self._settings.access_token_ttl,
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def _bot_token(self, bot_id: int, session_id: uuid.UUID) -> str:
        claims = {"sub": str(bot_id), "sid": str(session_id), "jti": uuid.uuid4().hex, "type": "bot", "iat": int(time.time())}
        return jwt.encode(claims, self._key, algorithm="HS256")

    async def open_bot_session(self, bot_id: int) -> str:
        """A new session for a bot and its token (no refresh token is ever handed out: the
        row's one is a random hash nobody holds)."""
        session_id = await session_store.create_session(
            user_id=bot_id,
            expires_at=BOT_SESSION_END,
            token_hash=_token_hash(secrets.token_urlsafe(32)),
            ip=None,
            user_agent="bot",
        )
        return self._bot_token(bot_id, session_id)

    def _tokens(self, user_id: int, session_id: uuid.UUID, refresh_token: str) -> dict[str, Any]:
        return {
            "access_token": self._access_token(user_id, session_id),
            "refresh_token": refresh_token,
            "token_type": "bearer",
            "expires_in": self._settings.access_token_ttl,
        }

    async def open(self, user_id: int, *, client_ip: str, user_agent: str | None) -> dict[str, Any]:
        """A new session for a user who just proved who they are; its token pair."""
        refresh = secrets.token_urlsafe(32)
        expires_at = datetime.now(UTC) + timedelta(seconds=self._settings.refresh_token_ttl)
        session_id = await session_store.create_session(
            user_id=user_id,
            expires_at=expires_at,
            token_hash=_token_hash(refresh),
            ip=client_ip,
            user_agent=_user_agent(user_agent),
        )
        return self._tokens(user_id, session_id, refresh)

    async def refresh(
        self, *, refresh_token: str, client_ip: str | None = None, user_agent: str | None = None
    ) -> dict[str, Any]:
        """Spend the token and issue a new pair; a spent token presented again revokes all."""
        reused_session: uuid.UUID | None = None
        async with transaction() as conn:
            row = await session_store.lock_refresh_token(_token_hash(refresh_token), conn)
            if row is None:
                raise Unauthorized("Unknown refresh token.")
            if row["spent_at"] is not None:
                await session_store.revoke_session(row["session_id"], conn)
                reused_session = row["session_id"]
            elif row["revoked_at"] is None and row["expires_at"] > datetime.now(UTC) and row["is_active"]:
                await session_store.spend_refresh_token(row["id"], conn)
                if client_ip is not None:
                    await session_store.record_use(
                        session_id=row["session_id"], ip=client_ip, user_agent=_user_agent(user_agent), conn=conn
                    )
                new_refresh = secrets.token_urlsafe(32)
                await session_store.insert_refresh_token(
                    session_id=row["session_id"], token_hash=_token_hash(new_refresh), conn=conn
                )
                return self._tokens(row["user_id"], row["session_id"], new_refresh)
        if reused_session is not None:
            await self.announce_revocation(reused_session)
            raise Unauthorized("Refresh token reused; the session is revoked.")
        raise Unauthorized("The session has ended.")

    # --- ending --------------------------------------------------------------------------------
    async def logout(self, *, principal: Principal) -> None:
        await session_store.revoke_session(principal.session_id)
        await self.announce_revocation(principal.session_id)

    async def list_sessions(self, *, principal: Principal) -> list[dict[str, Any]]:
        """The caller's live sessions (not revoked, refresh lifetime not over), latest use first."""
        rows = await session_store.live_sessions(principal.user_id)
        return [public_session(row, principal.session_id) for row in rows]

    async def revoke_session(self, *, principal: Principal, session_id: uuid.UUID) -> None:
        """End one of the caller's live sessions (its own included); 404 for any other id."""
        if not await session_store.revoke_live_session(session_id=session_id, user_id=principal.user_id):
            raise NotFound("No such session.")
        await self.announce_revocation(session_id)

    async def announce_revocation(self, *session_ids: uuid.UUID) -> None:
        """After the commit of their revocation: access tokens refused at once, sockets closed
        with 4401 (services that revoke sessions in their own transaction call this too)."""
        if not session_ids:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for session_id in session_ids:
                sid = str(session_id)
                pipe.set(keys.REVOKED_SESSION.format(session_id=sid), 1, ex=self._settings.access_token_ttl + 60)
                pipe.publish(self._channels.revoked, SessionRevoked(session_id=sid).encode())
            await pipe.execute()

    # --- verifying -----------------------------------------------------------------------------
    async def authenticate(self, token: str) -> Principal:
        """Verify an access token: signature, HS256 only, type, expiry, and revocation."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                options={"require": ["sub", "sid", "jti", "type", "iat"]},
            )
            if claims["type"] not in ("access", "bot") or not isinstance(claims["sid"], str):
                raise Unauthorized("Not an access token.")
            if claims["type"] == "access" and "exp" not in claims:
                raise ValueError("an access token must expire")
            principal = Principal(
                user_id=int(claims["sub"]), session_id=uuid.UUID(claims["sid"]), is_bot=claims["type"] == "bot"
            )
            if not possible_id(principal.user_id):
                raise ValueError("user id out of range")
        except (jwt.PyJWTError, ValueError, TypeError):
            raise Unauthorized("Invalid or expired token.") from None
        if principal.is_bot:
            await self._require_live_bot_session(principal)
        return await self._admit(principal)

    async def _require_live_bot_session(self, principal: Principal) -> None:
        # A bot token never expires, so its revocation must outlive the Redis key's lifetime:
        # PostgreSQL is asked at most once per ACTIVE_CACHE_SECONDS per session and process
        # (the Redis key, checked on every request, covers the first minutes after a revocation).
        now = time.monotonic()
        if self._bot_session_until.get(principal.session_id, 0.0) > now:
            return
        row = await session_store.get_session(principal.session_id)
        if row is None or row["revoked_at"] is not None or row["user_id"] != principal.user_id:
            raise Unauthorized("The bot token was replaced or the bot deleted.")
        if len(self._bot_session_until) > 100_000:
            self._bot_session_until.clear()
        self._bot_session_until[principal.session_id] = now + ACTIVE_CACHE_SECONDS

    async def _admit(self, principal: Principal) -> Principal:
        """A verified token's or ticket's caller, if their session and account are still live."""
        if await self.is_revoked(principal.session_id):
            raise Unauthorized("The session has ended.")
        await self._require_active_user(principal.user_id)
        await self._touch(principal.session_id)
        return principal

    async def _touch(self, session_id: uuid.UUID) -> None:
        """The session's last_seen_at, written at most once per TOUCH_INTERVAL per process."""
        now = time.monotonic()
        if self._next_touch.get(session_id, 0.0) > now:
            return
        if len(self._next_touch) > 100_000:
            self._next_touch.clear()
        self._next_touch[session_id] = now + TOUCH_INTERVAL
        try:
            await session_store.touch(session_id)
        except Exception as exc:  # best effort: a request that needs no PostgreSQL still works
            log.warning("session touch failed", extra={"error": repr(exc)})

    async def _require_active_user(self, user_id: int) -> None:
        # Checked against PostgreSQL at most once per ACTIVE_CACHE_SECONDS per user and process.
        now = time.monotonic()
        if self._active_until.get(user_id, 0.0) > now:
            return
        row = await user_store.get_user(user_id)
        if row is None or not row["is_active"]:
            raise Unauthorized("Unknown or inactive user.")
        if len(self._active_until) > 100_000:
            self._active_until.clear()
        self._active_until[user_id] = now + ACTIVE_CACHE_SECONDS

    async def is_revoked(self, session_id: uuid.UUID) -> bool:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.exists(keys.REVOCATIONS_LOADED)
            pipe.exists(keys.REVOKED_SESSION.format(session_id=session_id))
            loaded, revoked = await pipe.execute()
        if not loaded:
            await self._reload_revocations()
            return bool(await self._redis.exists(keys.REVOKED_SESSION.format(session_id=session_id)))
        return bool(revoked)

    async def revoked_among(self, session_ids: list[uuid.UUID]) -> list[uuid.UUID]:
        """Which of these sessions have ended (the gateway's sweep closes their sockets with
        4401): revoked, from one Redis round trip, or past their refresh lifetime, from the
        expiry learnt at the handshake. Sessions not seen at a handshake here are looked up in
        one batched PostgreSQL query. Forgets expiries of sessions no longer asked about."""
        if not session_ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.exists(keys.REVOCATIONS_LOADED)
            for session_id in session_ids:
                pipe.exists(keys.REVOKED_SESSION.format(session_id=session_id))
            loaded, *revoked = await pipe.execute()
        if not loaded:
            await self._reload_revocations()
            return await self.revoked_among(session_ids)
        ended = {s for s, is_revoked in zip(session_ids, revoked) if is_revoked}
        expiry = self._session_expiry
        unknown = [s for s in session_ids if s not in expiry]
        if unknown:
            found = {row["id"]: row for row in await session_store.sessions_state(unknown)}
            for session_id in unknown:
                row = found.get(session_id)
                if row is None or row["revoked_at"] is not None:
                    ended.add(session_id)
                else:
                    expiry[session_id] = row["expires_at"].timestamp()
        now = time.time()
        ended.update(s for s in session_ids if expiry.get(s, now + 1) <= now)
        self._session_expiry = {s: expiry[s] for s in session_ids if s in expiry and s not in ended}
        return [s for s in session_ids if s in ended]

    async def _reload_revocations(self) -> None:
        # Redis lost its keys (restart): rebuild from PostgreSQL every revocation whose
        # access tokens may still be alive.
        ttl = self._settings.access_token_ttl + 60
        since = datetime.now(UTC) - timedelta(seconds=ttl)
        rows = await session_store.recently_revoked(since)
        async with self._redis.pipeline(transaction=False) as pipe:
            for row in rows:
                pipe.set(keys.REVOKED_SESSION.format(session_id=row["id"]), 1, ex=ttl)
            pipe.set(keys.REVOCATIONS_LOADED, 1)
            await pipe.execute()

    async def check_session_active(self, principal: Principal) -> None:
        """The PostgreSQL check, for WebSocket handshakes (rare, long-lived)."""
        row = await session_store.get_session(principal.session_id)
        if (
            row is None
            or row["revoked_at"] is not None
            or row["user_id"] != principal.user_id
            or row["expires_at"] <= datetime.now(UTC)
        ):
            raise Unauthorized("The session has ended.")
        if len(self._session_expiry) > 100_000:
            self._session_expiry.clear()
        self._session_expiry[principal.session_id] = row["expires_at"].timestamp()

    # --- WebSocket tickets -----------------------------------------------------------------
    async def issue_ticket(self, *, principal: Principal) -> dict[str, Any]:
        ticket = secrets.token_urlsafe(24)
        value = f"{principal.user_id}:{principal.session_id}"
        await self._redis.set(keys.WS_TICKET.format(ticket=ticket), value, ex=TICKET_TTL)
        return {"ticket": ticket, "expires_in": TICKET_TTL}

    async def redeem_ticket(self, ticket: str) -> Principal:
        value = await self._redis.getdel(keys.WS_TICKET.format(ticket=ticket[:128]))
        if value is None:
            raise Unauthorized("Unknown, used or expired ticket.")
        user_id, session_id = (value.decode() if isinstance(value, bytes) else value).split(":", 1)
        return await self._admit(Principal(user_id=int(user_id), session_id=uuid.UUID(session_id)))
