"""Ending sessions and opening sockets: logout refuses the session's tokens and closes its
WebSockets, and single-use WebSocket tickets."""

from __future__ import annotations

import asyncio

import jwt

from tests.support.auth import bearer, login, me_status, ws_refused_status
from tests.support.checks import assert_error, bad_fields
from tests.support.clients import Device, User, make_user


# --- logout ----------------------------------------------------------------------------------
async def test_logout_refuses_the_access_token_on_the_next_request(http, http2):
    user = await make_user(http)
    other = (await login(http, user.username)).json()
    assert await me_status(http, user.token) == 200
    r = await http.post("/auth/logout", headers=user.headers)
    assert r.status_code == 204 and r.content == b""
    assert_error(await http.get("/users/me", headers=user.headers), 401, "unauthorized")
    assert_error(await http2.get("/users/me", headers=user.headers), 401, "unauthorized")
    assert_error(await http.post("/auth/refresh", json={"refresh_token": user.tokens["refresh_token"]}), 401, "unauthorized")
    assert_error(await http.post("/auth/logout", headers=user.headers), 401, "unauthorized")
    # The same user's other session keeps working.
    assert await me_status(http, other["access_token"]) == 200
    assert await me_status(http2, other["access_token"]) == 200
    assert (await http2.post("/auth/refresh", json={"refresh_token": other["refresh_token"]})).status_code == 200


async def test_logout_accepts_an_optional_refresh_token_body(http):
    user = await make_user(http)
    r = await http.post("/auth/logout", json={"refresh_token": user.tokens["refresh_token"]}, headers=user.headers)
    assert r.status_code == 204, r.text
    assert await me_status(http, user.token) == 401
    second = await make_user(http)
    assert bad_fields(await http.post("/auth/logout", json={"refresh_token": 5}, headers=second.headers)) == {"refresh_token"}


async def test_logout_requires_a_token(http):
    assert_error(await http.post("/auth/logout"), 401, "unauthorized")
    assert_error(await http.post("/auth/logout", headers=bearer("nonsense")), 401, "unauthorized")


async def test_logout_closes_that_sessions_websockets_with_4401(http, cluster):
    user = await make_user(http)
    other = User(id=user.id, username=user.username, email=user.email, tokens=(await login(http, user.username)).json())
    doomed = await Device.connect(cluster.apis[1].ws_url, user, "doomed")
    survivor = await Device.connect(cluster.apis[0].ws_url, other, "survivor")
    assert (await http.post("/auth/logout", headers=user.headers)).status_code == 204
    assert await doomed.closed_with(timeout=10) == 4401
    # Nor can that session's access token open a new socket, on either instance.
    for api in cluster.apis:
        assert await ws_refused_status(api.ws_url, user.headers) == 401
    pong = await survivor.ws.ping()
    await asyncio.wait_for(pong, 5)
    await survivor.close()


# --- WebSocket tickets -----------------------------------------------------------------------
async def test_ws_ticket_works_once(http, cluster, redis):
    user = await make_user(http)
    r = await http.post("/auth/ws-ticket", headers=user.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"ticket", "expires_in"} and body["expires_in"] == 30
    ttl = await redis.ttl(f"mc:ticket:{body['ticket']}")
    assert 0 < ttl <= 30
    device = await Device.connect(cluster.apis[1].ws_url, None, "browser", ticket=body["ticket"])
    assert device.connected is not None and device.connected["user_id"] == user.id
    sid = jwt.decode(user.token, options={"verify_signature": False})["sid"]
    assert device.connected["session_id"] == sid
    # Second use, on either instance: refused at the handshake.
    for api in cluster.apis:
        assert await ws_refused_status(f"{api.ws_url}?ticket={body['ticket']}") == 401
    await device.close()


async def test_ws_ticket_expired_is_refused(http, cluster, redis):
    user = await make_user(http)
    ticket = (await http.post("/auth/ws-ticket", headers=user.headers)).json()["ticket"]
    assert await redis.expire(f"mc:ticket:{ticket}", 1)
    await asyncio.sleep(1.3)
    assert await ws_refused_status(f"{cluster.apis[0].ws_url}?ticket={ticket}") == 401


async def test_ws_ticket_refused_when_unknown_or_session_ended(http, cluster):
    user = await make_user(http)
    url = cluster.apis[0].ws_url
    assert await ws_refused_status(f"{url}?ticket=made-up-ticket") == 401
    assert await ws_refused_status(f"{url}?ticket={'x' * 300}") == 401
    ticket = (await http.post("/auth/ws-ticket", headers=user.headers)).json()["ticket"]
    assert (await http.post("/auth/logout", headers=user.headers)).status_code == 204
    assert await ws_refused_status(f"{url}?ticket={ticket}") == 401


async def test_ws_ticket_requires_an_access_token(http):
    assert_error(await http.post("/auth/ws-ticket"), 401, "unauthorized")
    user = await make_user(http)
    assert_error(await http.post("/auth/ws-ticket", headers=bearer(user.tokens["refresh_token"])), 401, "unauthorized")


async def test_ws_ticket_each_issue_is_distinct(http):
    user = await make_user(http)
    tickets = {(await http.post("/auth/ws-ticket", headers=user.headers)).json()["ticket"] for _ in range(5)}
    assert len(tickets) == 5
