"""Test clients over real sockets: users with tokens, and a WebSocket device (on the shared
low-level client of tests/support/wsclient.py)."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection

from tests.support.frames import check_frame
from tests.support.wsclient import WsClient

PASSWORD = "correct horse battery"
_names = itertools.count(1)


@dataclass
class User:
    id: int
    username: str
    email: str
    tokens: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens['access_token']}"}

    @property
    def token(self) -> str:
        return str(self.tokens["access_token"])


async def make_user(http: httpx.AsyncClient, username: str | None = None) -> User:
    username = username or f"user{next(_names)}_{uuid.uuid4().hex[:6]}"
    email = f"{username}@example.com"
    r = await http.post("/auth/register", json={"username": username, "email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    r = await http.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return User(id=user_id, username=username, email=email, tokens=r.json())


async def direct_chat(http: httpx.AsyncClient, a: User, b: User) -> dict[str, Any]:
    r = await http.post("/chats", json={"type": "direct", "member_ids": [b.id]}, headers=a.headers)
    assert r.status_code in (200, 201), r.text
    return r.json()  # type: ignore[no-any-return]


async def pair(http: httpx.AsyncClient) -> tuple[User, User, dict[str, Any]]:
    """(alice, bob, chat): two new users and the direct chat alice opened with bob."""
    alice, bob = await make_user(http), await make_user(http)
    return alice, bob, await direct_chat(http, alice, bob)


async def post_message(http: httpx.AsyncClient, user: User, chat_id: int, content: Any, client_msg_id: str | None = None) -> httpx.Response:
    """POST /messages as it is answered, for tests of refusals."""
    body: dict[str, Any] = {"chat_id": chat_id, "content": content}
    if client_msg_id is not None:
        body["client_msg_id"] = client_msg_id
    return await http.post("/messages", json=body, headers=user.headers)


async def send(http: httpx.AsyncClient, user: User, chat_id: int, content: str, client_msg_id: str | None = None) -> dict[str, Any]:
    r = await post_message(http, user, chat_id, content, client_msg_id)
    assert r.status_code in (200, 201), r.text
    return r.json()  # type: ignore[no-any-return]


async def history(http: httpx.AsyncClient, user: User, chat_id: int, **params: Any) -> dict[str, Any]:
    r = await http.get("/messages", params={"chat_id": chat_id, **params}, headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def chat_in_list(http: httpx.AsyncClient, user: User, chat_id: int) -> dict[str, Any]:
    items = (await http.get("/chats", headers=user.headers)).json()["items"]
    return next(c for c in items if c["id"] == chat_id)  # type: ignore[no-any-return]


async def send_many(http: httpx.AsyncClient, user: User, chat_id: int, count: int, prefix: str = "m") -> list[dict[str, Any]]:
    """Send `count` messages one after another ("m0", "m1", ...) and return them in order."""
    return [await send(http, user, chat_id, f"{prefix}{i}") for i in range(count)]


class Device(WsClient):
    """A WebSocket device: answers pings, checks every frame against /asyncapi.json, records
    it, and tracks inbox events."""

    def __init__(self, ws: ClientConnection) -> None:
        super().__init__(ws)
        self.frames: list[dict[str, Any]] = []
        self.inbox_seqs: list[int] = []
        self.connected: dict[str, Any] | None = None

    @classmethod
    async def connect(
        cls, ws_url: str, user: User | None = None, device_id: str | None = None, *, ticket: str | None = None
    ) -> Device:
        token = user.token if user and not ticket else None
        device = await cls.open(ws_url, token=token, device_id=device_id, ticket=ticket)
        assert isinstance(device, Device)
        device.connected = await device.expect_connected(10.0)
        return device

    def decode(self, raw: str | bytes) -> dict[str, Any]:
        frame = super().decode(raw)
        check_frame(frame)
        return frame

    async def recv(self, timeout: float | None = 10.0) -> dict[str, Any]:
        frame = await super().recv(timeout)
        self.frames.append(frame)
        data = frame.get("data")
        if isinstance(data, dict) and "inbox_seq" in data and frame["type"] not in ("connected", "resync"):
            self.inbox_seqs.append(data["inbox_seq"])
        return frame

    async def next(self, *types: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next frame of one of these types, skipping others (they stay in .frames)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no {types} frame in {timeout}s; got {[f['type'] for f in self.frames[-10:]]}")
            frame = await self.recv(remaining)
            if not types or frame["type"] in types:
                return frame

    async def messages_until(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Collect `message` events until `count` distinct message ids arrived."""
        seen: dict[int, dict[str, Any]] = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(seen) < count:
            frame = await self.next("message", timeout=max(0.01, deadline - loop.time()))
            seen.setdefault(frame["data"]["message"]["id"], frame["data"]["message"])
        return list(seen.values())

    async def closed_with(self, timeout: float = 10.0) -> int | None:
        """Read until the server closes (frames kept in .frames); its close code."""
        frames, code = await self.frames_until_closed(timeout)
        self.frames.extend(frames)
        return code


async def connect_devices(*logins: tuple[str, User, str]) -> list[Device]:
    """Connect one Device per (ws_url, user, device_id), in the order given."""
    return [await Device.connect(ws_url, user, device_id) for ws_url, user, device_id in logins]
