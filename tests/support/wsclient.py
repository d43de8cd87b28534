"""The one low-level client of /ws that every test client builds on: the tests' Device
(tests/support/clients.py), the fault harness's recipients (tests/faults/harness.py) and the
bench's devices (tests/bench/devices.py).

It opens the socket (Bearer token, ticket or the relay's user id, and a device id), sends and
receives frames, answers the server's pings (every client must, or the server closes it),
acks and reads the close code. It records nothing and validates nothing: callers keep their
own bookkeeping, Device checks each frame against /asyncapi.json by overriding `decode`, and
the bench, which measures throughput, pays for one orjson.loads per frame and no more.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import orjson
import websockets
from websockets.asyncio.client import ClientConnection

PONG = '{"type":"pong","data":{}}'
ACK = '{"type":"ack","data":{"inbox_seq":%d}}'  # %-formatted: the bench acks often


def close_code(exc: BaseException) -> int | None:
    """The code the server closed with; None when no close frame came (the connection dropped,
    or the error was not a close at all)."""
    if isinstance(exc, websockets.ConnectionClosed) and exc.rcvd is not None:
        return exc.rcvd.code
    return None


class WsClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws  # the websockets connection itself, for tests that need the raw socket

    @classmethod
    async def open(
        cls,
        ws_url: str,
        *,
        token: str | None = None,
        device_id: str | None = None,
        ticket: str | None = None,
        user_id: int | None = None,
        max_size: int = 2**24,
        open_timeout: float = 10.0,
        close_timeout: float = 10.0,
        compression: str | None = "deflate",
    ) -> WsClient:
        """Handshake only: the caller reads the `connected` frame (see `expect_connected`).
        `user_id` is the bench relay's stand-in for a token."""
        query = [f"{name}={value}" for name, value in (("user_id", user_id), ("device_id", device_id), ("ticket", ticket))
                 if value is not None and value != ""]
        # Values go in as given, unquoted: tests send malformed device ids on purpose.
        url = ws_url + ("?" + "&".join(query) if query else "")
        headers = {"Authorization": f"Bearer {token}"} if token else None
        ws = await websockets.connect(
            url,
            additional_headers=headers,
            max_size=max_size,
            ping_interval=None,  # the server pings; we answer in recv()
            open_timeout=open_timeout,
            close_timeout=close_timeout,
            compression=compression,
        )
        return cls(ws)

    def decode(self, raw: str | bytes) -> dict[str, Any]:
        """One received frame as a dict. Subclasses that validate frames override this."""
        frame: dict[str, Any] = orjson.loads(raw)
        return frame

    async def recv(self, timeout: float | None = None) -> dict[str, Any]:
        """The next frame that is not a ping (pings are answered here). `timeout` bounds each
        read; None waits as long as the socket lives."""
        while True:
            if timeout is None:
                raw = await self.ws.recv()
            else:
                raw = await asyncio.wait_for(self.ws.recv(), timeout)
            frame = self.decode(raw)
            if frame.get("type") != "ping":
                return frame
            await self.ws.send(PONG)

    async def expect_connected(self, timeout: float | None = 10.0) -> dict[str, Any]:
        """The `data` of the `connected` frame every session opens with."""
        first = await self.recv(timeout)
        if first.get("type") != "connected":
            raise RuntimeError(f"first frame was not `connected`: {first}")
        data: dict[str, Any] = first["data"]
        return data

    async def send(self, type: str, data: Any, ref: str | None = None) -> None:
        frame: dict[str, Any] = {"type": type, "data": data}
        if ref is not None:
            frame["ref"] = ref
        # json, not orjson: tests send values orjson refuses (ids past 64 bits) on purpose.
        await self.ws.send(json.dumps(frame))

    async def send_text(self, text: str) -> None:
        """A frame already encoded (the bench encodes its own, once)."""
        await self.ws.send(text)

    async def ack(self, inbox_seq: int) -> None:
        await self.ws.send(ACK % inbox_seq)

    async def frames_until_closed(self, timeout: float = 10.0) -> tuple[list[dict[str, Any]], int | None]:
        """Every frame until the server closes (pings included, unanswered), and its close code."""
        frames: list[dict[str, Any]] = []
        try:
            while True:
                frames.append(self.decode(await asyncio.wait_for(self.ws.recv(), timeout)))
        except websockets.ConnectionClosed as closed:
            return frames, close_code(closed)

    async def close(self) -> None:
        await self.ws.close()
