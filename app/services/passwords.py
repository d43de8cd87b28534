"""Password hashes, and checking a password under login throttling.

Failed attempts are counted per (account, client address) and per client address, never per
account alone: guessing someone's password from elsewhere cannot lock them out of an address
that has not failed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from dataclasses import dataclass

import bcrypt
from redis.asyncio import Redis

from app import keys, metrics
from app.config import Settings
from app.errors import RateLimited, Unauthorized, field_error
from app.storage import users as user_store

log = logging.getLogger(__name__)

# Many accounts may log in from one address (NAT, an office): it gets this many times the
# per-(account, address) limit before every login from it is refused.
IP_FAILURE_FACTOR = 10
# Give an attempt back to a counter that still exists (never create one without expiry).
_GIVE_BACK = "if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end return 0"


def _prehash(password: str) -> bytes:
    # bcrypt rejects input over 72 bytes; a SHA-256 digest keeps every password's full entropy.
    return base64.b64encode(hashlib.sha256(password.encode()).digest())


@dataclass(frozen=True)
class Attempt:
    ok: bool
    failures: int  # the (account, address) count, this attempt included; 0 after a success


class Passwords:
    def __init__(self, settings: Settings, redis: Redis) -> None:
        self._settings = settings
        self._redis = redis
        self._dummy_hash = bcrypt.hashpw(_prehash("not a password"), bcrypt.gensalt(settings.bcrypt_rounds)).decode()

    async def hash(self, password: str) -> str:
        salt = bcrypt.gensalt(self._settings.bcrypt_rounds)
        hashed = await asyncio.to_thread(bcrypt.hashpw, _prehash(password), salt)
        return hashed.decode()

    async def attempt(self, password: str, stored_hash: str | None, *, account: str, client_ip: str) -> Attempt:
        """Count the attempt (429 once a counter is over its limit), then check the password
        against `stored_hash`, or against a dummy hash when there is none so an unknown
        account takes as long as a wrong password. A success forgets the pair's failures."""
        pair_key = keys.LOGIN_FAILURES.format(scope="pair", key=f"{client_ip}/{account.lower()}")
        ip_key = keys.LOGIN_FAILURES.format(scope="ip", key=client_ip)
        failures = await self._take_attempt(pair_key, ip_key, client_ip=client_ip)
        hashed = (stored_hash or self._dummy_hash).encode()
        if not await asyncio.to_thread(bcrypt.checkpw, _prehash(password), hashed) or not stored_hash:
            return Attempt(ok=False, failures=failures)
        # A success clears the pair's failures and gives the address its attempt back.
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.delete(pair_key)
            pipe.eval(_GIVE_BACK, 1, ip_key)
            await pipe.execute()
        return Attempt(ok=True, failures=0)

    async def verify(self, *, user_id: int, password: str, client_ip: str, field: str) -> None:
        """Check a signed-in user's password before a grave change, throttled like a login.
        Wrong: 422 naming `field` (the caller's token is fine, so 401 would mislead clients)."""
        row = await user_store.get_password_hash(user_id)
        if row is None or row["username"] is None:
            raise Unauthorized("Unknown or inactive user.")
        if not (await self.attempt(password, row["password_hash"], account=row["username"], client_ip=client_ip)).ok:
            log.info("password check refused", extra={"client_ip": client_ip, "user_id": user_id})
            raise field_error(field, "The password is wrong." if field == "password" else "The current password is wrong.")

    async def _take_attempt(self, pair_key: str, ip_key: str, *, client_ip: str) -> int:
        """Counted before the password is checked, so concurrent guesses cannot all pass a
        check made before any of them was counted. Returns the (account, address) count."""
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
