"""Sending one push over HTTP: Web Push (pywebpush encrypts, app/services/vapid.py signs the
VAPID JWT) and Matrix push gateway POSTs, through one aiohttp session whose resolver refuses
non-public addresses unless PUSH_ALLOW_PRIVATE_TARGETS (app/services/pushtargets.py).

Each send returns an outcome: `sent`; `gone` (404/410, or the gateway rejected the pushkey:
the subscription is to be deleted); `retry` (5xx, 429, a timeout or a connection error: arq
tries again with backoff); `failed` (anything else: retrying would not help).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
from pywebpush import WebPusher, WebPushException

from app.jsonutil import dumps
from app.services.pushtargets import PublicOnlyResolver, literal_allowed
from app.services.vapid import VapidKey

log = logging.getLogger(__name__)

Outcome = Literal["sent", "gone", "retry", "failed"]
SEND_TIMEOUT = 10.0  # seconds for one push request, connect included
WEBPUSH_TTL = 24 * 3600  # seconds a push service keeps an undelivered notification
VAPID_LIFETIME = 12 * 3600  # seconds a VAPID JWT is valid (RFC 8292 allows at most 24 h)


def _outcome(status: int) -> Outcome:
    if 200 <= status < 300:
        return "sent"
    if status in (404, 410):
        return "gone"
    if status >= 500 or status == 429:
        return "retry"
    return "failed"


class PushSender:
    def __init__(self, *, vapid: VapidKey | None, allow_private_targets: bool) -> None:
        self._vapid = vapid
        self._allow_private = allow_private_targets
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            resolver = None if self._allow_private else PublicOnlyResolver()
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(resolver=resolver, limit=100),
                timeout=aiohttp.ClientTimeout(total=SEND_TIMEOUT),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def webpush(self, *, endpoint: str, p256dh: str, auth: str, payload: dict[str, Any], topic: str) -> Outcome:
        """RFC 8030 push, payload encrypted per RFC 8291 (aes128gcm), VAPID per RFC 8292.
        `topic` collapses notifications a push service still holds for the device."""
        if self._vapid is None:
            log.warning("web push skipped: VAPID_PRIVATE_KEY is not set")
            return "failed"
        if not literal_allowed(endpoint, allow_private=self._allow_private):
            return "gone"
        parts = urlsplit(endpoint)  # the origin: check_url refused credentials in it
        authorization = self._vapid.authorization(audience=f"{parts.scheme}://{parts.netloc}", expires=int(time.time()) + VAPID_LIFETIME)
        headers = {"Authorization": authorization, "Topic": topic, "Urgency": "high"}
        pusher = WebPusher({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}, aiohttp_session=self._client())
        try:
            response = await pusher.send_async(
                dumps(payload), headers=headers, ttl=WEBPUSH_TTL, timeout=aiohttp.ClientTimeout(total=SEND_TIMEOUT)
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.info("web push failed to connect", extra={"error": repr(exc)})
            return "retry"
        except WebPushException as exc:
            log.warning("web push refused the subscription", extra={"error": str(exc)})
            return "failed"
        assert isinstance(response, aiohttp.ClientResponse)
        outcome = _outcome(response.status)
        if outcome != "sent":
            log.info("web push answered", extra={"status": response.status, "outcome": outcome})
        return outcome

    async def gateway(self, *, url: str, pushkey: str, body: dict[str, Any]) -> Outcome:
        """POST one Matrix push gateway notification; a pushkey the gateway lists in
        `rejected` is gone (the Matrix spec: the homeserver must stop pushing to it)."""
        if not literal_allowed(url, allow_private=self._allow_private):
            return "gone"
        try:
            async with self._client().post(url, data=dumps(body), headers={"Content-Type": "application/json"}) as response:
                outcome = _outcome(response.status)
                if outcome == "sent":
                    try:
                        answer = await response.json(content_type=None)
                    except ValueError:
                        answer = None
                    if isinstance(answer, dict) and pushkey in (answer.get("rejected") or []):
                        outcome = "gone"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.info("push gateway failed to connect", extra={"error": repr(exc)})
            return "retry"
        if outcome != "sent":
            log.info("push gateway answered", extra={"status": response.status, "outcome": outcome})
        return outcome
