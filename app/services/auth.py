"""Proving who you are: registration, login, and changing a password. Sessions and tokens
are app/services/sessions.py's; password hashes and login throttling app/services/passwords.py's."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.asyncio import Redis

from app import metrics
from app.config import Settings
from app.db import transaction
from app.errors import Conflict, Forbidden, RateLimited, Unauthorized
from app.services.passwords import Passwords
from app.services.ratelimit import SlidingWindowLimiter
from app.services.sessions import Principal, SessionService
from app.services.views import public_user
from app.storage import sessions as session_store
from app.storage import users as user_store

log = logging.getLogger(__name__)

_BAD_LOGIN = "Wrong username or password."
REGISTER_WINDOW = 3600.0
REGISTER_RATE = "mc:rate:register:{ip}"  # sliding window of registrations per client address


class AuthService:
    def __init__(self, settings: Settings, redis: Redis, *, passwords: Passwords, sessions: SessionService) -> None:
        self._passwords = passwords
        self._sessions = sessions
        self._register_limit = SlidingWindowLimiter(
            redis, limit=settings.register_rate_limit, window_seconds=REGISTER_WINDOW
        )

    async def register(self, *, username: str, email: str, password: str, client_ip: str) -> dict[str, Any]:
        """Counted per client address before any hashing: REGISTER_RATE_LIMIT an hour."""
        wait = await self._register_limit.hit(REGISTER_RATE.format(ip=client_ip))
        if wait:
            metrics.RATE_LIMITED.labels(scope="register").inc()
            log.info("registration refused: rate limited", extra={"client_ip": client_ip})
            raise RateLimited(wait, "Too many registrations from this address; retry later.")
        password_hash = await self._passwords.hash(password)
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
        # Throttled per account (whether reached by its name or its email: keyed by its
        # username) and client address; unknown names are counted by the name tried, so a 429
        # tells nothing about which accounts exist.
        attempt = await self._passwords.attempt(
            password, row["password_hash"] if row else None, account=row["username"] if row else login, client_ip=client_ip
        )
        if not attempt.ok:
            log.info("login refused", extra={"client_ip": client_ip})
            # Slow down repeated guessing before refusing outright.
            await asyncio.sleep(min(2.0, 0.05 * 2 ** max(0, attempt.failures - 3)))
            raise Unauthorized(_BAD_LOGIN)
        assert row is not None
        if not row["is_active"]:  # told only to whoever knows the password
            log.info("login refused: deactivated", extra={"client_ip": client_ip, "user_id": row["id"]})
            raise Forbidden("This account is deactivated; an administrator can reactivate it.")
        return await self._sessions.open(row["id"], client_ip=client_ip, user_agent=user_agent)

    async def change_password(
        self, *, principal: Principal, current_password: str, new_password: str, client_ip: str
    ) -> None:
        """Check the current password (throttled like a login), store the new hash and revoke
        every other session of the account in one transaction; the caller's session stays. A
        wrong current password is 422 on `current_password`: the caller's token is fine, so 401
        would mislead clients."""
        await self._passwords.verify(
            user_id=principal.user_id, password=current_password, client_ip=client_ip, field="current_password"
        )
        password_hash = await self._passwords.hash(new_password)
        async with transaction() as conn:
            await user_store.set_password_hash(principal.user_id, password_hash, conn)
            revoked = await session_store.revoke_other_sessions(
                user_id=principal.user_id, keep=principal.session_id, conn=conn
            )
        await self._sessions.announce_revocation(*revoked)
