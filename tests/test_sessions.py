"""The caller's sessions (list, revoke one), password changes that
revoke every other session, and sockets that close with 4401 whenever their session ends,
the refresh lifetime running out included (but not the access token's own expiry)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest
import websockets

from tests.conftest import make_stack
from tests.support.clients import PASSWORD, Device, User, make_user
from tests.support.frames import check_frame

SESSION_KEYS = {"id", "created_at", "last_seen_at", "ip", "user_agent", "current"}


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    return body["error"]  # type: ignore[no-any-return]


async def another_session(http: httpx.AsyncClient, user: User, user_agent: str = "test-client/1.0") -> User:
    r = await http.post(
        "/auth/login", json={"username": user.username, "password": PASSWORD}, headers={"User-Agent": user_agent}
    )
    assert r.status_code == 200, r.text
    return User(id=user.id, username=user.username, email=user.email, tokens=r.json())


async def sessions(http: httpx.AsyncClient, user: User) -> list[dict[str, Any]]:
    r = await http.get("/auth/sessions", headers=user.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body, list)
    return body  # type: ignore[no-any-return]


async def current_id(http: httpx.AsyncClient, user: User) -> str:
    (mine,) = [s for s in await sessions(http, user) if s["current"]]
    return str(mine["id"])


async def still_open(device: Device) -> None:
    await asyncio.wait_for(await device.ws.ping(), 5)


async def ws_status(url: str, user: User) -> int:
    try:
        async with websockets.connect(url, additional_headers=user.headers, open_timeout=5):
            return 101
    except websockets.InvalidStatus as exc:
        return exc.response.status_code


# --- GET /auth/sessions ---------------------------------------------------------------------------
async def test_sessions_lists_the_callers_live_sessions(http, http2):
    user = await make_user(http)
    phone = await another_session(http, user, "phone-app/2.1")
    laptop = await another_session(http, user, "laptop\x7fbrowser" + "x" * 400)
    stranger = await make_user(http)
    assert (await http.post("/auth/logout", headers=laptop.headers)).status_code == 204
    for client in (http, http2):
        listed = await sessions(client, phone)
        assert len(listed) == 2, listed  # the logged-out one is gone; nobody else's is there
        for s in listed:
            assert set(s) == SESSION_KEYS
            uuid.UUID(s["id"])
            assert s["created_at"].endswith("Z") and s["last_seen_at"].endswith("Z")
            assert s["ip"] == "127.0.0.1"
        mine = [s for s in listed if s["current"]]
        assert len(mine) == 1 and mine[0]["user_agent"] == "phone-app/2.1"
        other = next(s for s in listed if not s["current"])
        assert other["user_agent"] and other["user_agent"].startswith("python-httpx/")
    assert len(await sessions(http, stranger)) == 1
    assert_error(await http.get("/auth/sessions"), 401, "unauthorized")


async def test_sessions_last_seen_at_moves_on_refresh(http):
    user = await make_user(http)
    (before,) = await sessions(http, user)
    await asyncio.sleep(1.1)
    r = await http.post(
        "/auth/refresh", json={"refresh_token": user.tokens["refresh_token"]}, headers={"User-Agent": "renewed/1"}
    )
    assert r.status_code == 200, r.text
    renewed = User(id=user.id, username=user.username, email=user.email, tokens=r.json())
    (after,) = await sessions(http, renewed)
    assert after["id"] == before["id"] and after["user_agent"] == "renewed/1"
    assert after["last_seen_at"] > before["last_seen_at"] and after["created_at"] == before["created_at"]


# --- DELETE /auth/sessions/{id} -------------------------------------------------------------------
async def test_sessions_delete_ends_that_session_at_once_and_closes_its_sockets(http, http2, cluster):
    user = await make_user(http)
    doomed = await another_session(http, user)
    doomed_id = await current_id(http, doomed)
    socket = await Device.connect(cluster.apis[1].ws_url, doomed, "doomed")
    survivor_socket = await Device.connect(cluster.apis[0].ws_url, user, "survivor")

    r = await http.delete(f"/auth/sessions/{doomed_id}", headers=user.headers)
    assert r.status_code == 204 and r.content == b"", r.text
    assert await socket.closed_with(timeout=5) == 4401
    for client in (http, http2):
        assert_error(await client.get("/users/me", headers=doomed.headers), 401, "unauthorized")
    r = await http.post("/auth/refresh", json={"refresh_token": doomed.tokens["refresh_token"]})
    assert_error(r, 401, "unauthorized")
    for api in cluster.apis:
        assert await ws_status(api.ws_url, doomed) == 401
    assert [s["id"] for s in await sessions(http, user)] == [await current_id(http, user)]
    await still_open(survivor_socket)
    # Gone now: deleting it again is 404, like any id that is not a live session of the caller.
    assert_error(await http.delete(f"/auth/sessions/{doomed_id}", headers=user.headers), 404, "not_found")
    await survivor_socket.close()


async def test_sessions_delete_of_another_users_session_is_404_and_changes_nothing(http):
    owner = await make_user(http)
    intruder = await make_user(http)
    owner_session = await current_id(http, owner)
    for target in (owner_session, str(uuid.uuid4()), "not-a-uuid", "1"):
        assert_error(await http.delete(f"/auth/sessions/{target}", headers=intruder.headers), 404, "not_found")
    assert (await http.get("/users/me", headers=owner.headers)).status_code == 200
    assert_error(await http.delete(f"/auth/sessions/{owner_session}"), 401, "unauthorized")


async def test_sessions_delete_of_the_current_session_logs_it_out(http):
    user = await make_user(http)
    r = await http.delete(f"/auth/sessions/{await current_id(http, user)}", headers=user.headers)
    assert r.status_code == 204
    assert_error(await http.get("/users/me", headers=user.headers), 401, "unauthorized")


# --- POST /users/me/password ------------------------------------------------------------------------
async def test_password_change_revokes_every_other_session_and_keeps_the_callers(http, http2, cluster):
    user = await make_user(http)
    other = await another_session(http, user)
    other_socket = await Device.connect(cluster.apis[1].ws_url, other, "other")
    own_socket = await Device.connect(cluster.apis[0].ws_url, user, "own")
    new_password = "a brand new passphrase"

    r = await http.post("/users/me/password", json={"current_password": PASSWORD, "new_password": new_password}, headers=user.headers)
    assert r.status_code == 204 and r.content == b"", r.text
    assert await other_socket.closed_with(timeout=5) == 4401
    for client in (http, http2):
        assert_error(await client.get("/users/me", headers=other.headers), 401, "unauthorized")
        assert (await client.get("/users/me", headers=user.headers)).status_code == 200
    assert_error(await http.post("/auth/refresh", json={"refresh_token": other.tokens["refresh_token"]}), 401, "unauthorized")
    assert (await http.post("/auth/refresh", json={"refresh_token": user.tokens["refresh_token"]})).status_code == 200
    await still_open(own_socket)
    assert len(await sessions(http, user)) == 1
    # Only the new password logs in now.
    assert (await http.post("/auth/login", json={"username": user.username, "password": PASSWORD})).status_code == 401
    assert (await http.post("/auth/login", json={"username": user.username, "password": new_password})).status_code == 200
    await own_socket.close()


async def test_password_change_with_a_wrong_current_password_is_422_and_changes_nothing(http):
    user = await make_user(http)
    other = await another_session(http, user)
    r = await http.post("/users/me/password", json={"current_password": "not it at all", "new_password": "whatever123"}, headers=user.headers)
    error = assert_error(r, 422, "validation_error")
    assert [d["field"] for d in error["details"]] == ["current_password"]
    assert (await http.get("/users/me", headers=other.headers)).status_code == 200
    assert (await http.post("/auth/login", json={"username": user.username, "password": PASSWORD})).status_code == 200


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"current_password": PASSWORD, "new_password": "short"}, {"new_password"}),
        ({"current_password": PASSWORD, "new_password": "x" * 129}, {"new_password"}),
        ({"new_password": "long enough"}, {"current_password"}),
        ({"current_password": PASSWORD}, {"new_password"}),
        ({"current_password": PASSWORD, "new_password": "long enough", "extra": 1}, {"extra"}),
        ([], {"body"}),
    ],
)
async def test_password_change_names_the_bad_field(http, body, fields):
    user = await make_user(http)
    error = assert_error(await http.post("/users/me/password", json=body, headers=user.headers), 422, "validation_error")
    assert {d["field"] for d in error["details"]} == fields


async def test_password_change_needs_a_token_and_throttles_guessing(http):
    assert_error(await http.post("/users/me/password", json={"current_password": "a", "new_password": "b" * 8}), 401, "unauthorized")
    user = await make_user(http)
    body = {"current_password": "guess", "new_password": "whatever123"}
    results = await asyncio.gather(*(http.post("/users/me/password", json=body, headers=user.headers) for _ in range(12)))
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(422) == 10 and statuses.count(429) == 2, statuses
    assert int(next(r for r in results if r.status_code == 429).headers["Retry-After"]) >= 1


# --- item 9: the refresh lifetime ends the socket, the access token's expiry does not -------------
async def _frames_until_closed(device: Device, seconds: float) -> int | None:
    """Answer pings and read frames for up to `seconds`; the close code, or None if still open."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        while (remaining := deadline - loop.time()) > 0:
            try:
                frame = json.loads(await asyncio.wait_for(device.ws.recv(), remaining))
            except TimeoutError:
                return None
            check_frame(frame)
            if frame["type"] == "ping":
                await device.send("pong", {})
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    return None


@pytest.mark.timeout(120)
async def test_socket_closes_4401_when_the_refresh_lifetime_ends_not_when_the_access_token_does(backing, stacks):
    refresh_ttl = 25
    stack = await make_stack(stacks, backing, ACCESS_TOKEN_TTL="2", REFRESH_TOKEN_TTL=str(refresh_ttl), DB_POOL_SIZE="4")
    api = await asyncio.to_thread(stack.add_api)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=15) as http:
        user = await make_user(http)
        logged_in = time.monotonic()
        device = await Device.connect(api.ws_url, user, "phone")
        # The access token expires after 2 s; the gateway's sweep (every 10 s) runs at least
        # once more before the session's refresh lifetime is over, and must leave it open.
        assert await _frames_until_closed(device, refresh_ttl - 3 - (time.monotonic() - logged_in)) is None
        assert_error(await http.get("/users/me", headers=user.headers), 401, "unauthorized")  # token expired
        await still_open(device)
        # Then the session ends: closed with 4401 by the next sweep.
        assert await _frames_until_closed(device, 20) == 4401
        assert time.monotonic() - logged_in >= refresh_ttl - 1
