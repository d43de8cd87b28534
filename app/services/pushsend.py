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

from app.jsonutil import dumps, loads
from app.outbound import OutboundClient
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
    def __init__(self, *, vapid: VapidKey | None, client: OutboundClient) -> None:
        self._vapid = vapid
        self._client = client

    async def webpush(self, *, endpoint: str, p256dh: str, auth: str, payload: dict[str, Any], topic: str) -> Outcome:
        """RFC 8030 push, payload encrypted per RFC 8291 (aes128gcm), VAPID per RFC 8292.
        `topic` collapses notifications a push service still holds for the device."""
        if self._vapid is None:
            log.warning("web push skipped: VAPID_PRIVATE_KEY is not set")
            return "failed"
        if not self._client.allows_literal(endpoint):
            return "gone"
        parts = urlsplit(endpoint)  # the origin: check_url refused credentials in it
        authorization = self._vapid.authorization(audience=f"{parts.scheme}://{parts.netloc}", expires=int(time.time()) + VAPID_LIFETIME)
        headers = {"Authorization": authorization, "Topic": topic, "Urgency": "high"}
        pusher = WebPusher({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}, aiohttp_session=self._client.session())
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
        answer = await self._client.post(
            url, body=dumps(body), headers={"Content-Type": "application/json"}, timeout=SEND_TIMEOUT
        )
        if answer.refused:
            return "gone"
        if answer.status is None:
            log.info("push gateway failed to connect", extra={"error": answer.error})
            return "retry"
        outcome = _outcome(answer.status)
        if outcome == "sent":
            try:
                rejected = loads(answer.body).get("rejected") or []
            except (ValueError, AttributeError):
                rejected = []
            if pushkey in rejected:
                outcome = "gone"
        if outcome != "sent":
            log.info("push gateway answered", extra={"status": answer.status, "outcome": outcome})
        return outcome
