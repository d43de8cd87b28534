"""Replies (a preview of an earlier message of the same chat, emptied when it is deleted) and
mentions (`@username` of current members, counted per chat until read). Real API processes,
PostgreSQL, Redis and the delivery worker."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.checks import assert_error, group_chat
from tests.support.clients import Device, User, connect_devices, make_user, pair, send


async def reply(http: httpx.AsyncClient, user: User, chat_id: int, content: str, reply_to_id: Any) -> httpx.Response:
    body = {"chat_id": chat_id, "content": content, "reply_to_id": reply_to_id}
    return await http.post("/messages", json=body, headers=user.headers)


async def chat_of(http: httpx.AsyncClient, user: User, chat_id: int) -> dict[str, Any]:
    r = await http.get(f"/chats/{chat_id}", headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_a_reply_carries_a_preview_of_the_original_that_empties_when_it_is_deleted(http):
    alice, bob, chat = await pair(http)
    original = await send(http, alice, chat["id"], "x" * 150)
    r = await reply(http, bob, chat["id"], "answer", original["id"])
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer["reply_to"] == {"id": original["id"], "seq": 1, "sender_id": alice.id, "preview": "x" * 100}
    assert original["reply_to"] is None
    # Edits show in the preview; a deletion empties it, the link stays.
    await http.patch(f"/messages/{original['id']}", json={"content": "edited"}, headers=alice.headers)
    items = (await http.get("/messages", params={"chat_id": chat["id"]}, headers=alice.headers)).json()["items"]
    assert items[1]["reply_to"]["preview"] == "edited"
    await http.delete(f"/messages/{original['id']}", headers=alice.headers)
    items = (await http.get("/messages", params={"chat_id": chat["id"]}, headers=bob.headers)).json()["items"]
    assert items[1]["reply_to"] == {"id": original["id"], "seq": 1, "sender_id": alice.id, "preview": ""}


async def test_a_reply_to_anything_but_a_message_of_the_same_chat_is_422_and_stores_nothing(http, pg):
    alice, _bob, chat = await pair(http)
    carol = await make_user(http)
    other = await group_chat(http, alice, carol)
    elsewhere = await send(http, alice, other["id"], "elsewhere")
    for bad in [elsewhere["id"], 999_999_999]:
        r = await reply(http, alice, chat["id"], "re", bad)
        assert_error(r, 422, "validation_error")
        assert [d["field"] for d in r.json()["error"]["details"]] == ["reply_to_id"]
    for bad in [0, -1, "1", 2**63]:
        assert_error(await reply(http, alice, chat["id"], "re", bad), 422, "validation_error")
    assert await pg.fetchval("SELECT last_seq FROM chats WHERE id = $1", chat["id"]) == 0
    # An outsider learns nothing about the chat from the reply check: the same 404 as always.
    first = await send(http, alice, chat["id"], "first")
    assert_error(await reply(http, carol, chat["id"], "re", first["id"]), 404, "not_found")
    assert_error(await reply(http, carol, chat["id"], "re", elsewhere["id"]), 404, "not_found")


async def test_a_reply_sent_over_websocket_is_acked_and_delivered_with_its_preview(http, cluster):
    alice, bob, chat = await pair(http)
    original = await send(http, alice, chat["id"], "question?")
    b, a = await connect_devices((cluster.apis[0].ws_url, bob, "b"), (cluster.apis[1].ws_url, alice, "a"))
    await a.messages_until(1)
    data = {"chat_id": chat["id"], "content": "answer", "client_msg_id": "r1", "reply_to_id": original["id"]}
    await b.send("message", data, ref="r")
    ack = await b.next("message_ack")
    expected = {"id": original["id"], "seq": 1, "sender_id": alice.id, "preview": "question?"}
    assert ack["ref"] == "r" and ack["data"]["message"]["reply_to"] == expected
    delivered = (await a.next("message"))["data"]["message"]
    assert delivered["content"] == "answer" and delivered["reply_to"] == expected
    await b.send("message", {**data, "client_msg_id": "r2", "reply_to_id": 999_999_999}, ref="bad")
    error = await b.next("error")
    assert error["ref"] == "bad" and error["data"]["code"] == "validation_error"
    await a.close()
    await b.close()


async def test_mentions_name_current_members_only_and_follow_edits(http):
    alice, bob, carol = await make_user(http), await make_user(http), await make_user(http)
    outsider = await make_user(http)
    chat = await group_chat(http, alice, bob, carol)
    text = f"hi @{bob.username.upper()}, @{outsider.username} and @nobody_here; mail {carol.username}@example.com"
    message = await send(http, alice, chat["id"], text)
    assert message["mentions"] == [bob.id]
    r = await http.patch(
        f"/messages/{message['id']}", json={"content": f"sorry, I meant @{carol.username}."}, headers=alice.headers
    )
    assert r.json()["mentions"] == [carol.id]
    both = await send(http, alice, chat["id"], f"@{carol.username} @{bob.username} @{bob.username}")
    assert both["mentions"] == sorted([bob.id, carol.id])
    # A member removed later stays mentioned where they were; a new message cannot name them.
    await http.delete(f"/chats/{chat['id']}/members/{carol.id}", headers=alice.headers)
    assert (await send(http, alice, chat["id"], f"@{carol.username}?"))["mentions"] == []


async def test_unread_mentions_count_until_read_over_rest_and_websocket(http, cluster):
    alice, bob, chat = await pair(http)
    await send(http, alice, chat["id"], f"@{bob.username} one")
    await send(http, alice, chat["id"], "no mention")
    third = await send(http, alice, chat["id"], f"two @{bob.username}")
    await send(http, bob, chat["id"], f"me myself @{bob.username}")  # one's own messages are read
    view = await chat_of(http, bob, chat["id"])
    assert (view["unread_count"], view["unread_mentions"]) == (3, 2)
    assert (await chat_of(http, alice, chat["id"]))["unread_mentions"] == 0
    r = await http.post("/messages/read", json={"chat_id": chat["id"], "up_to_seq": 1}, headers=bob.headers)
    assert r.json() == {"chat_id": chat["id"], "read_seq": 1, "unread_count": 2, "unread_mentions": 1}
    # A deleted mention no longer counts.
    await http.delete(f"/messages/{third['id']}", headers=alice.headers)
    listed = (await http.get("/chats", headers=bob.headers)).json()["items"][0]
    assert (listed["unread_count"], listed["unread_mentions"]) == (1, 0)
    await send(http, alice, chat["id"], f"again @{bob.username}")
    b = await Device.connect(cluster.apis[0].ws_url, bob, "b")
    await b.send("read", {"chat_id": chat["id"], "up_to_seq": 4}, ref="r")
    ack = await b.next("read_ack")
    assert ack["data"] == {"chat_id": chat["id"], "read_seq": 4, "unread_count": 1, "unread_mentions": 1}
    await b.send("read", {"chat_id": chat["id"], "up_to_seq": 5}, ref="r2")
    assert (await b.next("read_ack"))["data"]["unread_mentions"] == 0
    await b.close()
