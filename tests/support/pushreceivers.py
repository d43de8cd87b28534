"""Push services for tests, as real HTTP servers on 127.0.0.1 in the test's event loop.

`WebPushReceiver` plays a browser's push service (RFC 8030) and the browser itself: each
subscription has its own P-256 key pair and auth secret made here with `cryptography`; a push
must carry a VAPID JWT (RFC 8292) signed by the server's public key (verified with PyJWT),
and its `aes128gcm` body (RFC 8291) must decrypt with the subscription's private key (http_ece).
`GatewayReceiver` plays a Matrix push gateway (Sygnal) and checks the notify body's shape.
Both answer with scripted statuses (e.g. 503 then 201, or 410) and record what they accepted.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Self

import http_ece
import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Attempt:
    status: int
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.time)


class _Server:
    """A checking failure answers 400 (a push the server must not retry) and is kept in
    `errors`, which tests assert empty: an assert inside a handler would otherwise be lost."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host  # an IPv6 address (e.g. "::1") gives URLs with it in brackets
        self.errors: list[str] = []
        self.app = web.Application(middlewares=[self._record_errors])
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.changed = asyncio.Condition()

    @web.middleware
    async def _record_errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except Exception as exc:
            self.errors.append(f"{request.path}: {exc!r}")
            await self._notify()
            return web.Response(status=400, text=repr(exc))
        return response

    async def start(self) -> None:
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Self]:
        """Started for the block and stopped after it; a block that ends normally then checks
        that no push failed its checks (`errors` is empty)."""
        await self.start()
        try:
            yield self
        finally:
            await self.stop()
        assert self.errors == []

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()


@dataclass
class BrowserSubscription:
    """What PushManager.subscribe would hand the page: endpoint and keys, plus the private
    half only the browser holds."""

    name: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    script: list[int]  # statuses to answer, in order; then 201
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def keys(self) -> dict[str, str]:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"p256dh": b64url(public), "auth": b64url(self.auth)}

    @property
    def delivered(self) -> list[Attempt]:
        return [a for a in self.attempts if 200 <= a.status < 300]


class WebPushReceiver(_Server):
    def __init__(self, vapid_public_key: str, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.vapid_public_key = vapid_public_key
        self.subscriptions: dict[str, BrowserSubscription] = {}
        self.app.router.add_post("/push/{name}", self._push)

    def subscription(self, script: list[int] | None = None) -> BrowserSubscription:
        name = secrets.token_urlsafe(12)
        sub = BrowserSubscription(
            name=name,
            endpoint=f"{self.base_url}/push/{name}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth=secrets.token_bytes(16),
            script=list(script or []),
        )
        self.subscriptions[name] = sub
        return sub

    def _verify_vapid(self, request: web.Request) -> None:
        """RFC 8292: `Authorization: vapid t=<JWT>, k=<public key>`; the JWT is ES256 over
        the server's key, for this origin, not expired, with a contact `sub`."""
        scheme, _, params = request.headers.get("Authorization", "").partition(" ")
        assert scheme.lower() == "vapid", request.headers.get("Authorization")
        fields = dict(part.strip().split("=", 1) for part in params.split(","))
        assert fields["k"] == self.vapid_public_key, "the JWT's key is not the server's published key"
        point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(fields["k"]))
        claims = jwt.decode(fields["t"], key=point, algorithms=["ES256"], audience=self.base_url)
        assert claims["sub"].startswith(("mailto:", "https:"))
        assert time.time() < claims["exp"] <= time.time() + 24 * 3600

    async def _push(self, request: web.Request) -> web.Response:
        sub = self.subscriptions.get(request.match_info["name"])
        if sub is None:
            return web.Response(status=404)
        self._verify_vapid(request)
        assert request.headers["Content-Encoding"] == "aes128gcm"
        assert int(request.headers["TTL"]) > 0
        body = await request.read()
        plain = http_ece.decrypt(body, private_key=sub.private_key, auth_secret=sub.auth, version="aes128gcm")
        status = sub.script.pop(0) if sub.script else 201
        headers = {k.lower(): v for k, v in request.headers.items() if k.lower() in ("topic", "urgency", "ttl")}
        sub.attempts.append(Attempt(status=status, payload=json.loads(plain), headers=headers))
        await self._notify()
        return web.Response(status=status)

    async def wait_delivered(self, sub: BrowserSubscription, count: int, timeout: float = 15.0) -> list[Attempt]:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: len(sub.delivered) >= count), timeout)
        return sub.delivered

    async def wait_attempts(self, sub: BrowserSubscription, count: int, timeout: float = 15.0) -> list[Attempt]:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: len(sub.attempts) >= count), timeout)
        return sub.attempts


class GatewayReceiver(_Server):
    """A Matrix push gateway: POST /_matrix/push/v1/notify answers `{"rejected": []}` (or a
    scripted status) after checking the notification's shape."""

    PATH = "/_matrix/push/v1/notify"

    def __init__(self) -> None:
        super().__init__()
        self.attempts: list[Attempt] = []
        self.script: list[int] = []
        self.reject: set[str] = set()
        self.app.router.add_post(self.PATH, self._notify_route)

    @property
    def url(self) -> str:
        return self.base_url + self.PATH

    async def _notify_route(self, request: web.Request) -> web.Response:
        assert request.content_type == "application/json"
        body = await request.json()
        notification = body["notification"]
        assert isinstance(notification["event_id"], str) and isinstance(notification["room_id"], str)
        assert isinstance(notification["counts"]["unread"], int)
        assert notification.get("prio") in ("high", "low")
        (device,) = notification["devices"]
        assert set(device) >= {"app_id", "pushkey", "pushkey_ts", "data", "tweaks"}
        assert isinstance(device["pushkey_ts"], int)
        if "content" in notification:  # full format: the event's text and who sent it
            assert notification["type"] == "m.room.message"
            assert isinstance(notification["sender"], str)
            assert isinstance(notification["content"]["body"], str)
        status = self.script.pop(0) if self.script else 200
        self.attempts.append(Attempt(status=status, payload=body))
        await self._notify()
        if status != 200:
            return web.Response(status=status)
        rejected = [device["pushkey"]] if device["pushkey"] in self.reject else []
        return web.json_response({"rejected": rejected})

    @property
    def delivered(self) -> list[Attempt]:
        return [a for a in self.attempts if a.status == 200]

    async def wait_delivered(self, count: int, timeout: float = 15.0) -> list[Attempt]:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: len(self.delivered) >= count), timeout)
        return self.delivered
