"""Bots over the real cluster (contract: Bots and webhooks): a bot is a user with `is_bot`,
owned by its maker, acting over the same REST and WebSocket API with a token that does not
expire; rotation and deletion end that token and its sockets at once. Webhook delivery:
tests/test_webhooks.py."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.checks import assert_error, bad_fields, group_chat
from tests.support.clients import Device, User, direct_chat, make_user, send


async def make_bot(http: httpx.AsyncClient, owner: User, username: str | None = None, **fields: Any) -> tuple[User, dict[str, Any]]:
    name = username or f"bot_{owner.username}"[:32]
    r = await http.post("/bots", json={"username": name, **fields}, headers=owner.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    bot = User(id=body["bot"]["id"], username=name, email="", tokens={"access_token": body["token"]})
    return bot, body


async def test_bot_acts_over_the_api_with_its_token(http, http2, cluster):
    owner, friend = await make_user(http), await make_user(http)
    bot, body = await make_bot(http, owner, display_name="Helper")
    assert body["bot"]["is_bot"] is True and body["bot"]["email"] is None and body["bot"]["display_name"] == "Helper"
    assert body["webhook_secret"].startswith("whsec_")
    me = (await http2.get("/users/me", headers=bot.headers)).json()
    assert me["id"] == bot.id and me["is_bot"] is True
    # Others see it as a bot; a direct chat with it works, and so does adding it to a group.
    profile = (await http.get(f"/users/{bot.id}", headers=friend.headers)).json()
    assert profile["is_bot"] is True and profile["username"] == bot.username
    chat = await direct_chat(http, friend, bot)
    group = await group_chat(http, owner, friend, bot)
    device = await Device.connect(cluster.apis[1].ws_url, bot, "bot-1")
    await send(http, friend, chat["id"], "hello bot")
    frame = await device.next("message")
    assert frame["data"]["message"]["content"] == "hello bot"
    reply = await send(http2, bot, group["id"], "hello group")
    assert reply["sender_id"] == bot.id
    await device.close()


async def test_bot_token_is_refused_on_sessions_bots_password_and_admin(http):
    owner = await make_user(http)
    bot, _ = await make_bot(http, owner)
    for method, path, body in (
        ("POST", "/bots", {"username": "botbot_x"}), ("GET", "/bots", None), ("GET", "/auth/sessions", None),
        ("POST", "/auth/ws-ticket", None), ("POST", "/users/me/password", {"current_password": "x" * 8, "new_password": "y" * 8}),
        ("GET", "/admin/users", None), ("POST", "/auth/logout", {}),
    ):  # fmt: skip
        r = await http.request(method, path, json=body, headers=bot.headers)
        assert_error(r, 403, "forbidden")
    # Nobody can log in as a bot: it has no password.
    r = await http.post("/auth/login", json={"username": bot.username, "password": "anything-at-all"})
    assert_error(r, 401, "unauthorized")


async def test_only_the_owner_sees_or_changes_a_bot(http):
    owner, other = await make_user(http), await make_user(http)
    bot, _ = await make_bot(http, owner)
    for method, path, body in (
        ("PATCH", f"/bots/{bot.id}", {"display_name": "x"}), ("POST", f"/bots/{bot.id}/token", None),
        ("POST", f"/bots/{bot.id}/webhook/secret", None), ("GET", f"/bots/{bot.id}/webhook/deliveries", None),
        ("DELETE", f"/bots/{bot.id}", None), ("PATCH", f"/bots/{owner.id}", {"display_name": "x"}),
    ):  # fmt: skip
        assert_error(await http.request(method, path, json=body, headers=other.headers), 404, "not_found")
    assert (await http.get("/bots", headers=other.headers)).json() == {"items": [], "next_cursor": None}
    listed = (await http.get("/bots", headers=owner.headers)).json()["items"]
    assert [(b["bot"]["id"], b["webhook"]) for b in listed] == [(bot.id, None)]
    r = await http.patch(f"/bots/{bot.id}", json={"display_name": "  Renamed  "}, headers=owner.headers)
    assert r.status_code == 200 and r.json()["bot"]["display_name"] == "Renamed", r.text


async def test_bot_creation_validates_and_limits(http):
    owner = await make_user(http)
    assert bad_fields(await http.post("/bots", json={"username": "a b"}, headers=owner.headers)) == {"username"}
    assert bad_fields(await http.post("/bots", json={}, headers=owner.headers)) == {"username"}
    await make_bot(http, owner, f"b_{owner.username}"[:32])
    assert_error(await http.post("/bots", json={"username": f"b_{owner.username}"[:32]}, headers=owner.headers), 409, "conflict")
    assert_error(await http.post("/bots", json={"username": owner.username}, headers=owner.headers), 409, "conflict")
    for i in range(19):  # BOTS_PER_USER defaults to 20
        await make_bot(http, owner, f"b{i}_{owner.username}"[:32])
    assert_error(await http.post("/bots", json={"username": f"z_{owner.username}"[:32]}, headers=owner.headers), 409, "conflict")
    page = (await http.get("/bots", params={"limit": 15}, headers=owner.headers)).json()
    rest = (await http.get("/bots", params={"cursor": page["next_cursor"]}, headers=owner.headers)).json()
    assert len(page["items"]) == 15 and len(rest["items"]) == 5 and rest["next_cursor"] is None


async def test_rotating_the_token_ends_the_old_one_and_its_sockets(http, http2, cluster):
    owner = await make_user(http)
    bot, _ = await make_bot(http, owner)
    device = await Device.connect(cluster.apis[1].ws_url, bot, "b")
    r = await http.post(f"/bots/{bot.id}/token", headers=owner.headers)
    assert r.status_code == 200, r.text
    assert await device.closed_with() == 4401
    for client in (http, http2):
        assert_error(await client.get("/users/me", headers=bot.headers), 401, "unauthorized")
    fresh = {"Authorization": f"Bearer {r.json()['token']}"}
    assert (await http2.get("/users/me", headers=fresh)).json()["id"] == bot.id


async def test_deleting_a_bot_ends_it_and_it_leaves_every_chat(http, cluster):
    owner, friend = await make_user(http), await make_user(http)
    bot, _ = await make_bot(http, owner)
    group = await group_chat(http, owner, friend, bot)
    said = await send(http, bot, group["id"], "beep")
    device = await Device.connect(cluster.apis[0].ws_url, bot, "b")
    assert (await http.delete(f"/bots/{bot.id}", headers=owner.headers)).status_code == 204
    assert await device.closed_with() == 4401
    assert_error(await http.get("/users/me", headers=bot.headers), 401, "unauthorized")
    members = (await http.get(f"/chats/{group['id']}", headers=friend.headers)).json()["members"]
    assert bot.id not in {m["user_id"] for m in members}
    history = (await http.get("/messages", params={"chat_id": group["id"]}, headers=friend.headers)).json()["items"]
    assert [(m["id"], m["content"]) for m in history] == [(said["id"], "beep")]  # its words stay
    assert (await http.get("/bots", headers=owner.headers)).json()["items"] == []
    assert_error(await http.delete(f"/bots/{bot.id}", headers=owner.headers), 404, "not_found")


async def test_bots_have_their_own_send_limit(http):
    """RATE_LIMIT_MESSAGES is 30 per 10 s here; BOT_RATE_LIMIT (60) counts for the bot."""
    owner = await make_user(http)
    bot, _ = await make_bot(http, owner)
    chat = await direct_chat(http, owner, bot)
    statuses = [
        (await http.post("/messages", json={"chat_id": chat["id"], "content": f"b{i}"}, headers=bot.headers)).status_code
        for i in range(61)
    ]
    assert statuses[:60] == [201] * 60 and statuses[60] == 429
