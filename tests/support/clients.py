"""Test clients over real sockets: users with tokens, and a WebSocket device."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from tests.support.frames import check_frame

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


async def send(http: httpx.AsyncClient, user: User, chat_id: int, content: str, client_msg_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"chat_id": chat_id, "content": content}
    if client_msg_id:
        body["client_msg_id"] = client_msg_id
    r = await http.post("/messages", json=body, headers=user.headers)
    assert r.status_code in (200, 201), r.text
    return r.json()  # type: ignore[no-any-return]


async def send_many(http: httpx.AsyncClient, user: User, chat_id: int, count: int, prefix: str = "m") -> list[dict[str, Any]]:
    """Send `count` messages one after another ("m0", "m1", ...) and return them in order."""
    return [await send(http, user, chat_id, f"{prefix}{i}") for i in range(count)]


class Device:
    """A WebSocket device: answers pings, records every frame, tracks inbox events."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.inbox_seqs: list[int] = []
        self.connected: dict[str, Any] | None = None

    @classmethod
    async def connect(
        cls, ws_url: str, user: User | None = None, device_id: str | None = None, *, ticket: str | None = None
    ) -> Device:
        params = []
        if device_id:
            params.append(f"device_id={device_id}")
        if ticket:
            params.append(f"ticket={ticket}")
        url = ws_url + ("?" + "&".join(params) if params else "")
        headers = user.headers if user and not ticket else None
        ws = await websockets.connect(url, additional_headers=headers, max_size=2**24, ping_interval=None)
        device = cls(ws)
        first = await device.recv()
        assert first["type"] == "connected", first
        device.connected = first["data"]
        return device

    async def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            check_frame(frame)
            if frame["type"] == "ping":
                await self.send("pong", {})
                continue
            self.frames.append(frame)
            if isinstance(frame.get("data"), dict) and "inbox_seq" in frame["data"] and frame["type"] != "connected" and frame["type"] != "resync":
                self.inbox_seqs.append(frame["data"]["inbox_seq"])
            return frame  # type: ignore[no-any-return]

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

    async def send(self, type: str, data: Any, ref: str | None = None) -> None:
        frame: dict[str, Any] = {"type": type, "data": data}
        if ref is not None:
            frame["ref"] = ref
        await self.ws.send(json.dumps(frame))

    async def ack(self, inbox_seq: int) -> None:
        await self.send("ack", {"inbox_seq": inbox_seq})

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
        try:
            while True:
                frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
                check_frame(frame)
                self.frames.append(frame)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None

    async def close(self) -> None:
        await self.ws.close()


async def connect_devices(*logins: tuple[str, User, str]) -> list[Device]:
    """Connect one Device per (ws_url, user, device_id), in the order given."""
    return [await Device.connect(ws_url, user, device_id) for ws_url, user, device_id in logins]
