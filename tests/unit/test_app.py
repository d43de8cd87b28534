"""The API app driven in-process through Quart's test client (no Hypercorn, no worker), on
the real PostgreSQL and Redis: routes, the error envelope, and the WebSocket handshake."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.support.clients import PASSWORD
from tests.support.frames import frame_errors


async def register_and_login(app: Any) -> dict[str, Any]:
    client = app.test_client()
    name = f"unit_{uuid.uuid4().hex[:10]}"
    r = await client.post("/auth/register", json={"username": name, "email": f"{name}@example.com", "password": PASSWORD})
    assert r.status_code == 201, await r.get_data(as_text=True)
    r = await client.post("/auth/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200
    tokens: dict[str, Any] = await r.get_json()
    return tokens


async def test_health_answers_ok_with_security_headers_and_a_request_id(app: Any) -> None:
    r = await app.test_client().get("/health", headers={"X-Request-ID": "unit-req-1"})
    assert r.status_code == 200
    assert await r.get_json() == {"status": "ok"}
    assert r.headers["X-Request-ID"] == "unit-req-1"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


async def test_ready_reaches_the_real_postgres_and_redis(app: Any) -> None:
    r = await app.test_client().get("/ready")
    assert r.status_code == 200
    assert await r.get_json() == {"status": "ready"}


async def test_an_unknown_route_answers_the_error_envelope(app: Any) -> None:
    r = await app.test_client().get("/no/such/route")
    assert r.status_code == 404
    assert (await r.get_json())["error"]["code"] == "not_found"


async def test_a_protected_route_without_a_token_is_401(app: Any) -> None:
    r = await app.test_client().get("/users/me")
    assert r.status_code == 401
    assert (await r.get_json())["error"]["code"] == "unauthorized"


async def test_a_registered_user_logs_in_and_reads_their_profile(app: Any) -> None:
    tokens = await register_and_login(app)
    r = await app.test_client().get("/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert r.status_code == 200
    assert (await r.get_json())["username"].startswith("unit_")


async def test_a_forged_page_cursor_is_a_422_on_the_cursor_field(app: Any) -> None:
    tokens = await register_and_login(app)
    r = await app.test_client().get("/chats?cursor=bm90LWEtY3Vyc29y", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert r.status_code == 422
    body = await r.get_json()
    assert body["error"]["code"] == "validation_error"
    assert body["error"]["details"][0]["field"] == "cursor"


async def test_websocket_handshake_sends_connected_then_answers_bad_frames_with_error_frames(app: Any) -> None:
    tokens = await register_and_login(app)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    async with app.test_client().websocket("/ws?device_id=unit-dev", headers=headers) as ws:
        connected = json.loads(await ws.receive())
        assert connected["type"] == "connected", connected
        assert connected["data"]["device_id"] == "unit-dev"
        assert connected["data"]["cursor"] == 0
        assert frame_errors(connected) == []
        await ws.send(json.dumps({"type": "no_such_type", "data": {}, "ref": "r1"}))
        error = json.loads(await ws.receive())
        assert error["type"] == "error" and error["ref"] == "r1"
        assert error["data"]["code"] == "validation_error"
        assert frame_errors(error) == []
