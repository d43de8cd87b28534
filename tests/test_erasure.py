"""Erasing an account over the real cluster: DELETE /users/me with the password
revokes every session and closes its sockets with 4401, frees the username and email (a new
account taking them sees none of the old chats), removes the profile and avatar, leaves every
chat (a group's ownership passes on), and every message it sent keeps its seq with content "",
is_deleted true and no attachments. Others then see {deleted: true, username: null,
display_name: "Deleted account"}. A worker killed mid-way: tests/faults/test_erasure.py."""

from __future__ import annotations

import io
from typing import Any

import httpx
from PIL import Image

from tests.conftest import make_stack
from tests.support.checks import assert_error, bad_fields, group_chat, poll_rows
from tests.support.clients import PASSWORD, Device, User, make_user, pair, send

DELETED = {"username": None, "display_name": "Deleted account", "avatar_url": None, "online": None,
           "last_seen_at": None, "deleted": True, "is_bot": False}  # fmt: skip


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 40), (1, 2, 3)).save(out, "PNG")
    return out.getvalue()


async def erase(http: httpx.AsyncClient, user: User, password: str = PASSWORD) -> httpx.Response:
    return await http.request("DELETE", "/users/me", json={"password": password}, headers=user.headers)


async def history(http: httpx.AsyncClient, user: User, chat_id: int) -> list[dict[str, Any]]:
    r = await http.get("/messages", params={"chat_id": chat_id}, headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


async def test_erasure_needs_the_right_password(http):
    user = await make_user(http)
    assert bad_fields(await erase(http, user, "not the password")) == {"password"}
    assert bad_fields(await http.request("DELETE", "/users/me", json={}, headers=user.headers)) == {"password"}
    assert_error(await http.request("DELETE", "/users/me", json={"password": PASSWORD}), 401, "unauthorized")
    assert (await http.get("/users/me", headers=user.headers)).status_code == 200  # nothing happened


async def test_erasure_ends_sessions_and_sockets_and_frees_the_name(http, http2, cluster):
    alice, _, chat = await pair(http)
    other_login = (await http.post("/auth/login", json={"username": alice.username, "password": PASSWORD})).json()
    device = await Device.connect(cluster.apis[1].ws_url, alice, "phone")
    assert (await erase(http, alice)).status_code == 204
    assert await device.closed_with() == 4401
    for token in (alice.token, other_login["access_token"]):
        assert_error(await http2.get("/users/me", headers={"Authorization": f"Bearer {token}"}), 401, "unauthorized")
    assert_error(await http.post("/auth/refresh", json={"refresh_token": other_login["refresh_token"]}), 401, "unauthorized")
    assert_error(await http.post("/auth/login", json={"username": alice.username, "password": PASSWORD}), 401, "unauthorized")
    # The name and the address are free: a new account takes both and sees nothing of the old one.
    again = await make_user(http, alice.username)
    assert again.id != alice.id and again.email == alice.email
    assert (await http.get("/chats", headers=again.headers)).json()["items"] == []
    assert_error(await http.get(f"/chats/{chat['id']}", headers=again.headers), 404, "not_found")
    assert_error(await http.get("/messages", params={"chat_id": chat["id"]}, headers=again.headers), 404, "not_found")


async def test_erasure_wipes_every_message_and_keeps_their_seqs(http, pg, cluster):
    alice, bob, chat = await pair(http)
    carol = await make_user(http)
    group = await group_chat(http, alice, bob, carol)
    upload = await http.post(
        "/attachments", params={"name": "a.png"}, content=png(),
        headers={**alice.headers, "Content-Type": "application/octet-stream"},
    )  # fmt: skip
    r = await http.post("/messages", json={"chat_id": chat["id"], "content": "with file", "attachment_ids": [upload.json()["id"]]}, headers=alice.headers)
    assert r.status_code == 201, r.text
    await send(http, bob, chat["id"], "bob's words")
    for i in range(5):
        await send(http, alice, group["id"], f"secret {i}")
    await send(http, carol, group["id"], "carol's words")
    started = (await http.post("/users/me/export", headers=alice.headers)).json()
    await poll_rows(pg, "SELECT status FROM account_exports WHERE id = $1", started["id"], until=lambda rows: rows[0]["status"] == "ready")
    watcher = await Device.connect(cluster.apis[0].ws_url, bob, "bob")
    assert (await erase(http, alice)).status_code == 204
    # Bob hears it: the chats changed, her profile is gone, her messages are deleted.
    assert (await watcher.next("user_updated"))["data"]["user"] == {"id": alice.id, **DELETED}
    await poll_rows(
        pg, "SELECT erased_at FROM users WHERE id = $1", alice.id, until=lambda rows: rows[0]["erased_at"] is not None
    )
    direct = await history(http, bob, chat["id"])
    assert [(m["seq"], m["sender_id"], m["content"], m["is_deleted"], m["attachments"]) for m in direct] == [
        (1, alice.id, "", True, []), (2, bob.id, "bob's words", False, []),
    ]  # fmt: skip
    in_group = await history(http, carol, group["id"])
    assert [m["seq"] for m in in_group] == [1, 2, 3, 4, 5, 6]
    assert all(m["content"] == "" and m["is_deleted"] for m in in_group[:5])
    assert in_group[5]["content"] == "carol's words"
    assert await pg.fetchval("SELECT count(*) FROM messages WHERE content LIKE 'secret%' OR content = 'with file'") == 0
    assert await pg.fetchval("SELECT count(*) FROM attachments WHERE uploader_id = $1", alice.id) == 0
    assert await pg.fetchval("SELECT count(*) FROM inbox_events WHERE user_id = $1", alice.id) == 0
    assert await pg.fetchval("SELECT count(*) FROM account_exports WHERE user_id = $1", alice.id) == 0
    deleted = await watcher.next("message_deleted")
    assert deleted["data"]["message"]["content"] == "" and deleted["data"]["message"]["sender_id"] == alice.id
    # Search finds none of it.
    r = await http.get("/messages/search", params={"q": "secret"}, headers=carol.headers)
    assert r.status_code == 200 and r.json()["items"] == []
    await watcher.close()


async def test_erasure_wipes_the_words_before_it_answers(stacks, backing):
    """No worker runs here, so no job can have helped: once DELETE /users/me answered 204,
    nothing the account wrote reads back anywhere others look (history, search, a reply's
    preview), and the chat keeps its seqs for the others."""
    stack = await make_stack(stacks, backing)
    api = stack.add_api()
    async with httpx.AsyncClient(base_url=api.base_url, timeout=15.0) as client:
        alice, bob, chat = await pair(client)
        first = await send(client, alice, chat["id"], "secret from a")
        r = await client.post(
            "/messages", json={"chat_id": chat["id"], "content": "bob replies", "reply_to_id": first["id"]}, headers=bob.headers
        )
        assert r.status_code == 201 and r.json()["reply_to"]["preview"] == "secret from a", r.text
        assert (await erase(client, alice)).status_code == 204
        messages = await history(client, bob, chat["id"])
        assert [(m["seq"], m["content"], m["is_deleted"]) for m in messages] == [(1, "", True), (2, "bob replies", False)]
        assert messages[1]["reply_to"]["preview"] == ""
        found = await client.get("/messages/search", params={"q": "secret"}, headers=bob.headers)
        assert found.status_code == 200 and found.json()["items"] == []


async def test_erasure_leaves_every_chat_and_passes_group_ownership(http, cluster):
    alice, bob, chat = await pair(http)
    carol = await make_user(http)
    group = await group_chat(http, alice, bob, carol)
    r = await http.put(f"/chats/{group['id']}/members/{carol.id}/role", json={"role": "admin"}, headers=alice.headers)
    assert r.status_code == 200, r.text
    watcher = await Device.connect(cluster.apis[1].ws_url, carol, "c")
    assert (await erase(http, alice)).status_code == 204
    assert (await watcher.next("chat_updated"))["data"]["chat"]["id"] == group["id"]
    members = (await http.get(f"/chats/{group['id']}", headers=bob.headers)).json()["members"]
    assert {(m["user_id"], m["role"]) for m in members} == {(bob.id, "member"), (carol.id, "owner")}
    direct = (await http.get(f"/chats/{chat['id']}", headers=bob.headers)).json()
    assert [m["user_id"] for m in direct["members"]] == [bob.id]
    # The chat goes on.
    assert (await send(http, carol, group["id"], "still here"))["seq"] == 1
    await watcher.close()


async def test_erased_account_shows_as_deleted_and_its_avatar_is_gone(http, http2):
    alice, bob, _ = await pair(http)
    stranger = await make_user(http)
    upload = await http.post(
        "/attachments", params={"name": "me.png"}, content=png(),
        headers={**alice.headers, "Content-Type": "application/octet-stream"},
    )  # fmt: skip
    avatar_id = upload.json()["id"]
    r = await http.patch("/users/me", json={"display_name": "Alice A.", "avatar_attachment_id": avatar_id}, headers=alice.headers)
    assert r.status_code == 200
    assert (await http.put(f"/users/{alice.id}/block", headers=bob.headers)).status_code == 204
    assert (await erase(http, alice)).status_code == 204
    for client, viewer in ((http, bob), (http2, stranger)):
        r = await client.get(f"/users/{alice.id}", headers=viewer.headers)
        assert r.status_code == 200, r.text
        assert r.json() == {"id": alice.id, **DELETED}
        assert_error(await client.get(f"/attachments/{avatar_id}", headers=viewer.headers), 404, "not_found")
    for q in (alice.username, "Alice"):
        assert (await http.get("/users/search", params={"q": q}, headers=bob.headers)).json()["items"] == []
    # Blocks of and by the account are gone with it; it cannot be blocked again.
    assert (await http.get("/users/me/blocked", headers=bob.headers)).json()["items"] == []
    assert_error(await http.put(f"/users/{alice.id}/block", headers=bob.headers), 404, "not_found")
    # Nobody can open a chat with it or add it anywhere.
    r = await http.post("/chats", json={"type": "direct", "member_ids": [alice.id]}, headers=bob.headers)
    assert_error(r, 404, "not_found")
