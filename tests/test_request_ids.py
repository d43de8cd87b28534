"""Logs that correlate. Every line written while serving a request or a WebSocket
frame carries `request_id` (the client's X-Request-ID when it is sane, else a generated one),
echoed in the response; one access line per HTTP request names the route template, never the
raw path. Live checks read the API's own log file, as an operator's `jq` would."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import websockets

from app.logs import REQUEST_ID, FrameRequestIds, JsonFormatter, accept_request_id
from tests.support.clients import PASSWORD, make_user
from tests.support.frames import check_frame
from tests.support.processes import Proc, start_api

_GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def info_api(backing: Any) -> Iterator[Proc]:
    """An API logging at INFO (the suite's cluster logs at WARNING), its log file to read."""
    proc = start_api({**backing.env, "LOG_LEVEL": "INFO"})
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
async def client(info_api: Proc) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=info_api.base_url, timeout=15) as http:
        yield http


def log_lines(proc: Proc) -> list[dict[str, Any]]:
    lines = []
    for line in proc.log_path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            lines.append(entry)
    return lines


async def wait_for_lines(proc: Proc, request_id: str, *, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = [entry for entry in log_lines(proc) if entry.get("request_id") == request_id]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


def new_id() -> str:
    return f"it-{uuid.uuid4().hex[:12]}.1:a_b"


async def test_request_id_is_echoed_and_the_access_line_carries_it_and_the_route_template(client, info_api):
    request_id = new_id()
    r = await client.get("/chats/987654321", headers={"X-Request-ID": request_id})
    assert r.status_code == 401
    assert r.headers["X-Request-ID"] == request_id
    (access,) = [e for e in await wait_for_lines(info_api, request_id) if e["logger"] == "app.access"]
    assert access["method"] == "GET"
    assert access["route"] == "/chats/<int(signed=True):chat_id>"  # the template, not the path
    assert access["status"] == 401
    assert isinstance(access["duration_ms"], (int, float)) and access["duration_ms"] >= 0
    assert "987654321" not in json.dumps(access)
    assert access["level"] == "info" and access["ts"].endswith("Z")


async def test_access_line_never_carries_the_query_string(client, info_api):
    request_id = new_id()
    r = await client.get("/health?ticket=secret-ticket-value", headers={"X-Request-ID": request_id})
    assert r.status_code == 200
    (access,) = [e for e in await wait_for_lines(info_api, request_id) if e["logger"] == "app.access"]
    assert access["route"] == "/health"
    assert "secret-ticket-value" not in info_api.log_path.read_text()


async def test_a_handler_log_line_carries_the_request_id(client, info_api):
    user = await make_user(client)
    request_id = new_id()
    r = await client.post(
        "/auth/login", json={"username": user.username, "password": PASSWORD + "-wrong"}, headers={"X-Request-ID": request_id}
    )
    assert r.status_code == 401
    lines = await wait_for_lines(info_api, request_id, count=2)
    refused = [e for e in lines if e["event"].startswith("login refused")]
    assert refused, lines  # written by app/services/auth.py, which knows nothing of requests
    assert {e["logger"] for e in lines} >= {"app.access", refused[0]["logger"]}
    assert PASSWORD not in info_api.log_path.read_text()


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "semi;colon", "quote\"d", "ümlaut"])
async def test_a_malformed_request_id_is_replaced(client, info_api, bad):
    r = await client.get("/health", headers={"X-Request-ID": bad.encode("utf-8")})
    assert r.status_code == 200
    echoed = r.headers["X-Request-ID"]
    assert echoed != bad and _GENERATED.fullmatch(echoed), echoed
    (access,) = [e for e in await wait_for_lines(info_api, echoed) if e["logger"] == "app.access"]
    assert access["route"] == "/health"


async def test_without_a_request_id_one_is_generated_per_request(client):
    first, second = await client.get("/health"), await client.get("/health")
    assert _GENERATED.fullmatch(first.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


async def test_websocket_lines_carry_the_connection_request_id(client, info_api):
    user = await make_user(client)
    request_id = new_id()
    url = info_api.ws_url + "?device_id=phone"
    headers = {**user.headers, "X-Request-ID": request_id}
    async with websockets.connect(url, additional_headers=headers, ping_interval=None) as ws:
        connected = json.loads(await ws.recv())
        check_frame(connected)
        assert connected["type"] == "connected"
        await ws.send(json.dumps({"type": "typing", "data": {"chat_id": 1}}))
        check_frame(json.loads(await asyncio.wait_for(ws.recv(), 5)))
    closed = [e for e in await wait_for_lines(info_api, request_id) if e["event"] == "ws closed"]
    assert closed, log_lines(info_api)[-5:]


def test_accept_request_id_keeps_sane_ids_and_replaces_the_rest() -> None:
    assert accept_request_id("abc-DEF_1.2:3") == "abc-DEF_1.2:3"
    assert accept_request_id("a" * 128) == "a" * 128
    for bad in (None, "", "a" * 129, "a b", "a\nb", "a/b", "<script>"):
        assert _GENERATED.fullmatch(accept_request_id(bad)), bad


def test_frames_get_their_own_request_ids_and_every_log_line_carries_the_current_one() -> None:
    record = logging.LogRecord("app.ws.endpoint", logging.INFO, __file__, 1, "frame", None, None)
    formatter = JsonFormatter()
    assert "request_id" not in json.loads(formatter.format(record))  # outside any request

    def connection() -> list[str]:
        REQUEST_ID.set("conn-1")
        ids = FrameRequestIds()
        seen = []
        for _ in range(2):
            ids.next()
            seen.append(json.loads(formatter.format(record))["request_id"])
        return seen

    assert contextvars.copy_context().run(connection) == ["conn-1.1", "conn-1.2"]
    assert REQUEST_ID.get() is None  # a connection's ids stay in its own context
