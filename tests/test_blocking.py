"""Blocking over the real cluster: PUT / DELETE /users/{id}/block (204, idempotent,
404 for a missing user, 422 for oneself), GET /users/me/blocked; a blocked user cannot open a
direct chat with the blocker, send to their direct chat (REST and WebSocket alike), or add the
blocker to a group, and the blocker hears no typing or presence from them."""

from __future__ import annotations

import asyncio

import httpx

from tests.support.checks import assert_error, bad_fields, group_chat
from tests.support.clients import Device, User, direct_chat, make_user, pair, send


async def block(http: httpx.AsyncClient, blocker: User, user_id: int) -> httpx.Response:
    return await http.put(f"/users/{user_id}/block", headers=blocker.headers)


async def test_block_and_unblock_are_idempotent_and_listed(http, http2):
    me = await make_user(http)
    a, b = await make_user(http), await make_user(http)
    for client in (http, http2, http):
        assert (await block(client, me, a.id)).status_code == 204
    assert (await block(http, me, b.id)).status_code == 204
    r = await http2.get("/users/me/blocked", headers=me.headers)
    assert r.status_code == 200, r.text
    assert [item["id"] for item in r.json()["items"]] == [b.id, a.id] and r.json()["next_cursor"] is None
    assert r.json()["items"][0]["username"] == b.username and "email" not in r.text
    first = (await http.get("/users/me/blocked", params={"limit": 1}, headers=me.headers)).json()
    assert [item["id"] for item in first["items"]] == [b.id] and first["next_cursor"]
    rest = (await http.get("/users/me/blocked", params={"cursor": first["next_cursor"]}, headers=me.headers)).json()
    assert [item["id"] for item in rest["items"]] == [a.id] and rest["next_cursor"] is None
    for _ in range(2):
        assert (await http.delete(f"/users/{b.id}/block", headers=me.headers)).status_code == 204
    assert [item["id"] for item in (await http.get("/users/me/blocked", headers=me.headers)).json()["items"]] == [a.id]
    # Nobody else's list changes.
    assert (await http.get("/users/me/blocked", headers=a.headers)).json() == {"items": [], "next_cursor": None}


async def test_block_errors_missing_user_oneself_and_no_token(http):
    me = await make_user(http)
    for missing in (987654321, 2**63 - 1):
        assert_error(await block(http, me, missing), 404, "not_found")
        assert_error(await http.delete(f"/users/{missing}/block", headers=me.headers), 404, "not_found")
    assert bad_fields(await block(http, me, me.id)) == {"user_id"}
    assert_error(await http.put(f"/users/{me.id}/block"), 401, "unauthorized")
    assert_error(await http.get("/users/me/blocked"), 401, "unauthorized")
    assert bad_fields(await http.get("/users/me/blocked", params={"cursor": "%%bad"}, headers=me.headers)) == {"cursor"}


async def test_blocked_user_cannot_open_a_direct_chat_with_the_blocker(http):
    blocker, blocked = await make_user(http), await make_user(http)
    assert (await block(http, blocker, blocked.id)).status_code == 204
    r = await http.post("/chats", json={"type": "direct", "member_ids": [blocker.id]}, headers=blocked.headers)
    assert_error(r, 403, "forbidden")
    # The blocker still may, and once unblocked the other may again.
    chat = await direct_chat(http, blocker, blocked)
    assert (await http.delete(f"/users/{blocked.id}/block", headers=blocker.headers)).status_code == 204
    assert (await direct_chat(http, blocked, blocker))["id"] == chat["id"]


async def test_blocked_user_cannot_send_to_the_direct_chat_over_rest_or_websocket(http, cluster, pg):
    blocker, blocked, chat = await pair(http)
    await send(http, blocked, chat["id"], "before")
    assert (await block(http, blocker, blocked.id)).status_code == 204
    r = await http.post("/messages", json={"chat_id": chat["id"], "content": "hi"}, headers=blocked.headers)
    assert_error(r, 403, "forbidden")
    device = await Device.connect(cluster.apis[1].ws_url, blocked, "ws")
    await device.send("message", {"chat_id": chat["id"], "content": "hi", "client_msg_id": "c1"}, ref="s")
    error = await device.next("error")
    assert error["data"]["code"] == "forbidden" and error["ref"] == "s"
    await device.close()
    # Nothing stored, no seq spent; the blocker still sends, and groups are not affected.
    assert await pg.fetchval("SELECT last_seq FROM chats WHERE id = $1", chat["id"]) == 1
    assert (await send(http, blocker, chat["id"], "still here"))["seq"] == 2
    group = await group_chat(http, blocker, blocked)
    assert (await send(http, blocked, group["id"], "in a group"))["seq"] == 1
    assert (await http.delete(f"/users/{blocked.id}/block", headers=blocker.headers)).status_code == 204
    assert (await send(http, blocked, chat["id"], "after"))["seq"] == 3


async def test_blocked_user_cannot_add_the_blocker_to_a_group(http):
    blocker, blocked, friend = await make_user(http), await make_user(http), await make_user(http)
    assert (await block(http, blocker, blocked.id)).status_code == 204
    r = await http.post(
        "/chats", json={"type": "group", "title": "t", "member_ids": [friend.id, blocker.id]}, headers=blocked.headers
    )
    assert_error(r, 403, "forbidden")
    group = await group_chat(http, blocked, friend)
    r = await http.post(f"/chats/{group['id']}/members", json={"user_ids": [blocker.id]}, headers=blocked.headers)
    assert_error(r, 403, "forbidden")
    members = (await http.get(f"/chats/{group['id']}", headers=blocked.headers)).json()["members"]
    assert blocker.id not in [m["user_id"] for m in members]
    # Someone else may still add the blocker.
    r = await http.post(
        "/chats", json={"type": "group", "title": "t", "member_ids": [blocker.id, blocked.id]}, headers=friend.headers
    )
    assert r.status_code == 201


async def test_blocker_gets_no_typing_or_presence_from_the_blocked_user(http, cluster):
    blocker, blocked = await make_user(http), await make_user(http)
    bystander = await make_user(http)
    group = await group_chat(http, bystander, blocker, blocked)
    assert (await block(http, blocker, blocked.id)).status_code == 204
    witness = await Device.connect(cluster.apis[0].ws_url, bystander, "b")
    watcher = await Device.connect(cluster.apis[0].ws_url, blocker, "w")
    assert (await witness.next("presence"))["data"]["user_id"] == blocker.id
    typist = await Device.connect(cluster.apis[1].ws_url, blocked, "t")
    assert (await witness.next("presence"))["data"]["user_id"] == blocked.id
    await typist.send("typing", {"chat_id": group["id"]})
    assert (await witness.next("typing"))["data"]["user_id"] == blocked.id
    # The blocker's profile view hides the blocked user's presence too.
    seen = (await http.get(f"/users/{blocked.id}", headers=blocker.headers)).json()
    assert seen["online"] is None and seen["last_seen_at"] is None
    assert (await http.get(f"/users/{blocked.id}", headers=bystander.headers)).json()["online"] is True
    await asyncio.sleep(0.5)
    about_blocked = [f for f in watcher.frames if f["type"] in ("typing", "presence") and f["data"]["user_id"] == blocked.id]
    assert about_blocked == []
    for device in (watcher, witness, typist):
        await device.close()
