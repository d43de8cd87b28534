"""The gateway's refusals and close codes over real sockets: 401 at the handshake, 1009,
4429, 4401, 4408, 4008 and 1001 (tests/test_ws.py has the frames and events)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import struct

import httpx
import pytest
import websockets

from tests.conftest import make_stack
from tests.support.clients import Device, direct_chat, make_user, pair, send
from tests.support.frames import check_frame


async def test_ws_frame_over_64_kib_closes_with_1009(http, cluster):
    alice = await make_user(http)
    device = await Device.connect(cluster.api.ws_url, alice, "a")
    await device.ws.send("x" * (64 * 1024 + 1))
    assert await device.closed_with() == 1009


async def test_ws_handshake_refuses_bad_credentials_with_401(http, cluster):
    for headers in (None, {"Authorization": "Bearer not-a-token"}):
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(cluster.api.ws_url, additional_headers=headers)
        assert refused.value.response.status_code == 401
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(cluster.api.ws_url + "?ticket=forged")
    assert refused.value.response.status_code == 401


async def test_ws_rate_limit_errors_then_closes_abusers_with_4429(http, cluster):
    alice, _bob, chat = await pair(http)
    device = await Device.connect(cluster.api.ws_url, alice, "a")
    for i in range(30):
        await device.send("message", {"chat_id": chat["id"], "content": "x", "client_msg_id": f"ok{i}"})
        await device.next("message_ack")
    await device.send("message", {"chat_id": chat["id"], "content": "x", "client_msg_id": "over"}, ref="over")
    error = await device.next("error")
    assert error["ref"] == "over" and error["data"]["code"] == "rate_limited"
    for i in range(10):
        await device.send("message", {"chat_id": chat["id"], "content": "x", "client_msg_id": f"abuse{i}"})
    assert await device.closed_with() == 4429


async def test_ws_logout_closes_that_sessions_sockets_on_every_instance_with_4401(http, cluster):
    alice = await make_user(http)
    r = await http.post("/auth/login", json={"username": alice.username, "password": "correct horse battery"})
    other_session = r.json()
    on_a = await Device.connect(cluster.apis[0].ws_url, alice, "a")
    on_b = await Device.connect(cluster.apis[1].ws_url, alice, "b")
    survivor = await Device.connect(
        cluster.apis[1].ws_url, None, "c", ticket=(await http.post(
            "/auth/ws-ticket", headers={"Authorization": f"Bearer {other_session['access_token']}"}
        )).json()["ticket"],
    )
    r = await http.post("/auth/logout", headers=alice.headers)
    assert r.status_code == 204
    codes = await asyncio.wait_for(asyncio.gather(on_a.closed_with(), on_b.closed_with()), 1.0)  # "within a second"
    assert codes == [4401, 4401]
    await survivor.send("sync", {"since_inbox_seq": 0})
    assert survivor.ws.state.name == "OPEN"  # another session of the same user keeps working
    await survivor.close()


@pytest.mark.timeout(60)
async def test_ws_silent_client_is_closed_with_4408(backing, stacks):
    stack = await make_stack(stacks, backing, HEARTBEAT_INTERVAL="1")
    api = stack.add_api()
    async with httpx.AsyncClient(base_url=api.base_url) as client:
        alice = await make_user(client)
    ws = await websockets.connect(api.ws_url, additional_headers=alice.headers, ping_interval=None)
    frames = []
    try:
        while True:  # read, never answer
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            check_frame(frames[-1])
    except websockets.ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 4408
    assert frames[0]["type"] == "connected" and frames[0]["data"]["heartbeat_interval"] == 1
    assert any(f["type"] == "ping" for f in frames)


class RawSocketClient:
    """A WebSocket client on a bare socket that reads nothing until told to: the slowest
    possible reader (websockets' client would keep reading in the background)."""

    def __init__(self, port: int, path: str, token: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
            ).encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        assert self.buffer.startswith(b"HTTP/1.1 101"), self.buffer[:80]
        self.buffer = self.buffer.split(b"\r\n\r\n", 1)[1]

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def read_until_close(self) -> tuple[int | None, int]:
        """Read every frame; (close code, text frames read before it)."""
        self.sock.settimeout(30)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)  # now read fast
        frames = 0
        try:
            while True:
                first, second = self._read(2)
                length = second & 0x7F
                if length == 126:
                    length = struct.unpack("!H", self._read(2))[0]
                elif length == 127:
                    length = struct.unpack("!Q", self._read(8))[0]
                payload = self._read(length)
                if first & 0x0F == 0x8:
                    return (struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None), frames
                check_frame(json.loads(payload))
                frames += 1
        except (EOFError, OSError):
            return None, frames
        finally:
            self.sock.close()


@pytest.mark.timeout(240)
async def test_ws_slow_reader_is_closed_with_4008_then_resumes_losing_nothing(backing, stacks):
    stack = await make_stack(stacks, backing, WS_SEND_QUEUE_SIZE="64", RATE_LIMIT_MESSAGES="100000")
    api = stack.add_api()
    stack.add_worker()
    async with httpx.AsyncClient(base_url=api.base_url, timeout=15) as client:
        alice, bob = await make_user(client), await make_user(client)
        chat = await direct_chat(client, alice, bob)
        slow = await asyncio.to_thread(RawSocketClient, api.port, "/ws?device_id=slow", bob.token)
        payload = "y" * 4096
        sent = []
        # Past what the kernel's socket buffers absorb (up to ~4 MiB each way).
        for i in range(1400):
            sent.append((await send(client, alice, chat["id"], payload, f"s{i}"))["id"])
        code, _ = await asyncio.to_thread(slow.read_until_close)
        assert code == 4008
        resumed = await Device.connect(api.ws_url, bob, "slow")
        got = await resumed.messages_until(len(sent), timeout=120)
        assert {m["id"] for m in got} == set(sent)
        await resumed.close()


@pytest.mark.timeout(120)
async def test_ws_graceful_shutdown_closes_with_1001_and_loses_nothing(backing, stacks):
    stack = await make_stack(stacks, backing, RATE_LIMIT_MESSAGES="100000")
    first, second = stack.add_api(), stack.add_api()
    stack.add_worker()
    async with httpx.AsyncClient(base_url=second.base_url, timeout=15) as client:
        alice, bob = await make_user(client), await make_user(client)
        chat = await direct_chat(client, alice, bob)
        device = await Device.connect(first.ws_url, bob, "b")
        sent = [await send(client, alice, chat["id"], f"before {i}") for i in range(10)]
        await device.messages_until(10)
        await device.ack(device.inbox_seqs[-1])
        first.signal(signal.SIGTERM)
        assert await device.closed_with() == 1001
        sent += [await send(client, alice, chat["id"], f"during {i}") for i in range(10)]
        resumed = await Device.connect(second.ws_url, bob, "b")
        got = await resumed.messages_until(10)
        assert [m["id"] for m in got] == [m["id"] for m in sent[10:]]
        await resumed.close()
        assert await asyncio.to_thread(first.popen.wait, 15) == 0
