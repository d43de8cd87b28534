"""Accounts and sessions: register, login, refresh rotation with reuse detection, logout,
the session list, revoking one session, and password changes.

Access tokens are short-lived JWTs naming a session (`sid`). Revoking a session writes
PostgreSQL (the truth) and a Redis key that lives as long as any access token of it could,
so each request checks revocation with one Redis round trip and no PostgreSQL query.

A session ends when it is revoked (logout, DELETE /auth/sessions/{id}, refresh reuse, a
password change) or when its refresh lifetime (`expires_at`) is over; its sockets are then
closed with 4401 (`revoked_among`, the gateway's sweep). The access token's own expiry after
a handshake does not end anything.

Login throttling counts failed attempts per (account, client address) and per client
address, never per account alone: guessing someone's password from elsewhere cannot lock
them out of an address that has not failed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import bcrypt
import jwt
from redis.asyncio import Redis

from app import keys, metrics
from app.config import Settings
from app.db import transaction
from app.errors import Conflict, Forbidden, NotFound, RateLimited, Unauthorized, field_error
from app.ids import possible_id
from app.realtime.envelopes import SessionRevoked
from app.services.ratelimit import SlidingWindowLimiter
from app.services.views import public_session, public_user
from app.storage import sessions as session_store
from app.storage import users as user_store

log = logging.getLogger(__name__)

TICKET_TTL = 30
ACTIVE_CACHE_SECONDS = 30.0
# A session's last_seen_at is written at most this often per session and process.
TOUCH_INTERVAL = 60.0
USER_AGENT_MAX = 256
_BAD_LOGIN = "Wrong username or password."
# Many accounts may log in from one address (NAT, an office): it gets this many times the
# per-(account, address) limit before every login from it is refused.
IP_FAILURE_FACTOR = 10
REGISTER_WINDOW = 3600.0
REGISTER_RATE = "mc:rate:register:{ip}"  # sliding window of registrations per client address
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Give an attempt back to a counter that still exists (never create one without expiry).
_GIVE_BACK = "if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end return 0"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user and the login session the token belongs to."""

    user_id: int
    session_id: uuid.UUID


def _prehash(password: str) -> bytes:
    # bcrypt rejects input over 72 bytes; a SHA-256 digest keeps every password's full entropy.
    return base64.b64encode(hashlib.sha256(password.encode()).digest())


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user_agent(value: str | None) -> str | None:
    if not value:
        return None
    return _CONTROL.sub("", value)[:USER_AGENT_MAX] or None


def _login_keys(account: str, client_ip: str) -> tuple[str, str]:
    """(per account and address, per address) failure counters."""
    return (
        keys.LOGIN_FAILURES.format(scope="pair", key=f"{client_ip}/{account}"),
        keys.LOGIN_FAILURES.format(scope="ip", key=client_ip),
    )


class AuthService:
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
        self._register_limit = SlidingWindowLimiter(
            redis, limit=settings.register_rate_limit, window_seconds=REGISTER_WINDOW
        )
        self._dummy_hash = bcrypt.hashpw(_prehash("not a password"), bcrypt.gensalt(settings.bcrypt_rounds))

    # --- passwords -------------------------------------------------------------------------
    async def _hash(self, password: str) -> str:
        salt = bcrypt.gensalt(self._settings.bcrypt_rounds)
        hashed = await asyncio.to_thread(bcrypt.hashpw, _prehash(password), salt)
        return hashed.decode()

    async def _check(self, password: str, hashed: bytes) -> bool:
        return await asyncio.to_thread(bcrypt.checkpw, _prehash(password), hashed)

    # --- accounts --------------------------------------------------------------------------
    async def register(self, *, username: str, email: str, password: str, client_ip: str) -> dict[str, Any]:
        """Counted per client address before any hashing: REGISTER_RATE_LIMIT an hour."""
        wait = await self._register_limit.hit(REGISTER_RATE.format(ip=client_ip))
        if wait:
            metrics.RATE_LIMITED.labels(scope="register").inc()
            log.info("registration refused: rate limited", extra={"client_ip": client_ip})
            raise RateLimited(wait, "Too many registrations from this address; retry later.")
        password_hash = await self._hash(password)
        row = await user_store.insert_user(username=username, email=email, password_hash=password_hash)
        if row is None:
            raise Conflict("That username or email is already taken.")
        return public_user(row)

    async def login(
        self, *, login: str, password: str, client_ip: str, user_agent: str | None = None
    ) -> dict[str, Any]:
        """Same 401 and comparable time for an unknown user and a wrong password; 403 for the
        right password of a deactivated account."""
        row = await user_store.find_login(login)
        # Per account (whether reached by its name or its email: keyed by its username) and
        # client address; unknown names are counted by the name tried, so a 429 tells nothing
        # about which accounts exist.
        account = (row["username"] if row else login).lower()
        pair_key, ip_key = _login_keys(account, client_ip)
        failures = await self._take_attempt(pair_key, ip_key, client_ip=client_ip)
        ok = await self._check(password, row["password_hash"].encode() if row else self._dummy_hash)
        if not row or not ok:
            log.info("login refused", extra={"client_ip": client_ip})
            # Slow down repeated guessing before refusing outright.
            await asyncio.sleep(min(2.0, 0.05 * 2 ** max(0, failures - 3)))
            raise Unauthorized(_BAD_LOGIN)
        await self._forget_failures(pair_key, ip_key)
        if not row["is_active"]:  # told only to whoever knows the password
            log.info("login refused: deactivated", extra={"client_ip": client_ip, "user_id": row["id"]})
            raise Forbidden("This account is deactivated; an administrator can reactivate it.")
        return await self._open_session(row["id"], client_ip=client_ip, user_agent=user_agent)

    async def _forget_failures(self, pair_key: str, ip_key: str) -> None:
        # A success clears the pair's failures and gives the address its attempt back.
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.delete(pair_key)
            pipe.eval(_GIVE_BACK, 1, ip_key)
            await pipe.execute()

    async def _take_attempt(self, pair_key: str, ip_key: str, *, client_ip: str) -> int:
        """Count this attempt before the password is checked, so concurrent guesses cannot all
        pass a check made before any of them was counted; 429 once a counter is over its limit.
        Returns the (account, address) count, this attempt included."""
        limit = self._settings.login_max_failures
        limits = ((pair_key, limit), (ip_key, limit * IP_FAILURE_FACTOR))
        async with self._redis.pipeline(transaction=False) as pipe:
            for key, _ in limits:
                # SET NX EX then INCR: the window starts at the first failure and INCR keeps
                # its expiry (EXPIRE ... NX would need Redis 7; the embedded Redis is 6.2).
                pipe.set(key, 0, ex=self._settings.login_failure_window, nx=True)
                pipe.incr(key)
                pipe.ttl(key)
            values = await pipe.execute()
        for (_, key_limit), count, ttl in zip(limits, values[1::3], values[2::3]):
            if int(count) > key_limit:
                metrics.RATE_LIMITED.labels(scope="login").inc()
                log.info("login refused: throttled", extra={"client_ip": client_ip})
                raise RateLimited(max(1, int(ttl)), "Too many failed logins; retry later.")
        return int(values[1])

    # --- sessions and tokens ---------------------------------------------------------------
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

    def _tokens(self, user_id: int, session_id: uuid.UUID, refresh_token: str) -> dict[str, Any]:
        return {
            "access_token": self._access_token(user_id, session_id),
            "refresh_token": refresh_token,
            "token_type": "bearer",
            "expires_in": self._settings.access_token_ttl,
        }

    async def _open_session(self, user_id: int, *, client_ip: str, user_agent: str | None) -> dict[str, Any]:
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
            await self._announce_revocation(reused_session)
            raise Unauthorized("Refresh token reused; the session is revoked.")
        raise Unauthorized("The session has ended.")

    async def logout(self, *, principal: Principal) -> None:
        await session_store.revoke_session(principal.session_id)
        await self._announce_revocation(principal.session_id)

    async def _announce_revocation(self, *session_ids: uuid.UUID) -> None:
        """After commit: access tokens refused at once, sockets closed with 4401."""
        if not session_ids:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for session_id in session_ids:
                sid = str(session_id)
                pipe.set(keys.REVOKED_SESSION.format(session_id=sid), 1, ex=self._settings.access_token_ttl + 60)
                pipe.publish(self._channels.revoked, SessionRevoked(session_id=sid).encode())
            await pipe.execute()

    # --- the caller's sessions ---------------------------------------------------------------
    async def list_sessions(self, *, principal: Principal) -> list[dict[str, Any]]:
        """The caller's live sessions (not revoked, refresh lifetime not over), latest use first."""
        rows = await session_store.live_sessions(principal.user_id)
        return [public_session(row, principal.session_id) for row in rows]

    async def revoke_session(self, *, principal: Principal, session_id: uuid.UUID) -> None:
        """End one of the caller's live sessions (its own included); 404 for any other id."""
        if not await session_store.revoke_live_session(session_id=session_id, user_id=principal.user_id):
            raise NotFound("No such session.")
        await self._announce_revocation(session_id)

    async def change_password(
        self, *, principal: Principal, current_password: str, new_password: str, client_ip: str
    ) -> None:
        """Check the current password (throttled like a login: wrong guesses count per account
        and address), store the new hash and revoke every other session of the account in one
        transaction; the caller's session stays. A wrong current password is 422 on
        `current_password`: the caller's token is fine, so 401 would mislead clients."""
        await self.verify_password(
            user_id=principal.user_id, password=current_password, client_ip=client_ip, field="current_password"
        )
        password_hash = await self._hash(new_password)
        async with transaction() as conn:
            await user_store.set_password_hash(principal.user_id, password_hash, conn)
            revoked = await session_store.revoke_other_sessions(
                user_id=principal.user_id, keep=principal.session_id, conn=conn
            )
        await self._announce_revocation(*revoked)

    async def verify_password(self, *, user_id: int, password: str, client_ip: str, field: str) -> None:
        """Check a signed-in user's password before a grave change, throttled like a login
        (wrong guesses count per account and address). Wrong: 422 naming `field` (the caller's
        token is fine, so 401 would mislead clients)."""
        row = await user_store.get_password_hash(user_id)
        if row is None or row["username"] is None:
            raise Unauthorized("Unknown or inactive user.")
        pair_key, ip_key = _login_keys(row["username"].lower(), client_ip)
        await self._take_attempt(pair_key, ip_key, client_ip=client_ip)
        if not await self._check(password, row["password_hash"].encode()):
            log.info("password check refused", extra={"client_ip": client_ip, "user_id": user_id})
            raise field_error(field, "The password is wrong." if field == "password" else "The current password is wrong.")
        await self._forget_failures(pair_key, ip_key)

    async def announce_revocation(self, *session_ids: uuid.UUID) -> None:
        """After commit of their revocation: access tokens refused at once, sockets closed with
        4401 (for services that revoke sessions in their own transaction)."""
        await self._announce_revocation(*session_ids)

    async def authenticate(self, token: str) -> Principal:
        """Verify an access token: signature, HS256 only, type, expiry, and revocation."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                options={"require": ["sub", "sid", "jti", "type", "iat", "exp"]},
            )
            if claims["type"] != "access" or not isinstance(claims["sid"], str):
                raise Unauthorized("Not an access token.")
            principal = Principal(user_id=int(claims["sub"]), session_id=uuid.UUID(claims["sid"]))
            if not possible_id(principal.user_id):
                raise ValueError("user id out of range")
        except (jwt.PyJWTError, ValueError, TypeError):
            raise Unauthorized("Invalid or expired token.") from None
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
        principal = Principal(user_id=int(user_id), session_id=uuid.UUID(session_id))
        if await self.is_revoked(principal.session_id):
            raise Unauthorized("The session has ended.")
        await self._require_active_user(principal.user_id)
        await self._touch(principal.session_id)
        return principal
