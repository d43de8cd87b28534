"""Scheduled messages over the real cluster (contract: Scheduled and disappearing messages):
POST /messages with a future send_at is kept in PostgreSQL, invisible to others, and sent at
its moment through the normal send path (seq, events) exactly once; its author manages it over
/scheduled and hears every change. A worker killed at the due moment and a Redis wipe:
tests/faults/test_scheduled.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support.checks import assert_error, bad_fields
from tests.support.clients import Device, User, make_user, pair


def later(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def schedule(http: httpx.AsyncClient, user: User, chat_id: int, content: str, seconds: float, **extra: Any) -> dict[str, Any]:
    r = await http.post("/messages", json={"chat_id": chat_id, "content": content, "send_at": later(seconds), **extra}, headers=user.headers)
    assert r.status_code == 202, r.text
    return r.json()  # type: ignore[no-any-return]


async def history(http: httpx.AsyncClient, user: User, chat_id: int) -> list[dict[str, Any]]:
    r = await http.get("/messages", params={"chat_id": chat_id}, headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


async def test_a_scheduled_message_is_sent_once_at_its_moment(http, cluster):
    alice, bob, chat = await pair(http)
    phone = await Device.connect(cluster.apis[1].ws_url, alice, "alice-phone")
    reader = await Device.connect(cluster.apis[0].ws_url, bob, "bob")
    first = await http.post("/messages", json={"chat_id": chat["id"], "content": "now"}, headers=alice.headers)
    assert first.status_code == 201
    item = await schedule(http, alice, chat["id"], "later, @" + bob.username, 3, client_msg_id="s-1")
    assert set(item) == {"id", "chat_id", "content", "reply_to_id", "attachment_ids", "client_msg_id", "send_at", "created_at"}
    made = await phone.next("scheduled_updated")
    assert made["data"]["scheduled"]["id"] == item["id"] and made["data"]["id"] == item["id"]
    # Nothing for anyone else until then; the author sees it pending.
    assert [m["content"] for m in await history(http, bob, chat["id"])] == ["now"]
    pending = (await http.get("/scheduled", params={"chat_id": chat["id"]}, headers=alice.headers)).json()
    assert [s["id"] for s in pending["items"]] == [item["id"]]
    assert (await http.get("/scheduled", headers=bob.headers)).json()["items"] == []
    # The same client_msg_id again answers the first one and stores nothing.
    again = await schedule(http, alice, chat["id"], "other words", 60, client_msg_id="s-1")
    assert again["id"] == item["id"] and again["content"].startswith("later")
    assert (await reader.next("message"))["data"]["message"]["content"] == "now"
    sent = (await reader.next("message", timeout=15))["data"]["message"]
    assert (sent["content"], sent["seq"], sent["sender_id"], sent["mentions"]) == (item["content"], 2, alice.id, [bob.id])
    assert datetime.fromisoformat(sent["created_at"]) >= datetime.fromisoformat(item["send_at"])  # never early
    gone = await phone.next("scheduled_updated")
    assert gone["data"] == {"inbox_seq": gone["data"]["inbox_seq"], "scheduled": None, "id": item["id"]}
    await asyncio.sleep(1.5)
    assert [m["content"] for m in await history(http, bob, chat["id"])] == ["now", item["content"]]  # once
    assert (await http.get("/scheduled", headers=alice.headers)).json()["items"] == []
    await phone.close()
    await reader.close()


async def test_the_author_changes_or_cancels_it_and_nobody_else_can(http):
    alice, bob, chat = await pair(http)
    item = await schedule(http, alice, chat["id"], "draft", 3600)
    r = await http.patch(f"/scheduled/{item['id']}", json={"content": "final", "send_at": later(2)}, headers=alice.headers)
    assert r.status_code == 200 and r.json()["content"] == "final", r.text
    for method, body in (("PATCH", {"content": "hijack"}), ("DELETE", None)):
        assert_error(await http.request(method, f"/scheduled/{item['id']}", json=body, headers=bob.headers), 404, "not_found")
    cancelled = await schedule(http, alice, chat["id"], "never", 2)
    assert (await http.delete(f"/scheduled/{cancelled['id']}", headers=alice.headers)).status_code == 204
    assert_error(await http.delete(f"/scheduled/{cancelled['id']}", headers=alice.headers), 404, "not_found")
    for _ in range(50):
        if [m["content"] for m in await history(http, bob, chat["id"])] == ["final"]:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.5)
    assert [m["content"] for m in await history(http, bob, chat["id"])] == ["final"]


async def test_scheduling_is_checked_like_a_send(http):
    alice, _, chat = await pair(http)
    outsider = await make_user(http)
    r = await http.post("/messages", json={"chat_id": chat["id"], "content": "x", "send_at": later(60)}, headers=outsider.headers)
    assert_error(r, 404, "not_found")
    too_far = (datetime.now(UTC) + timedelta(days=366)).isoformat()
    r = await http.post("/messages", json={"chat_id": chat["id"], "content": "x", "send_at": too_far}, headers=alice.headers)
    assert bad_fields(r) == {"send_at"}
    for body, field in (
        ({"content": "", "send_at": later(60)}, "content"), ({"content": "x", "send_at": "tomorrow"}, "send_at"),
        ({"content": "x", "send_at": "2030-01-01T00:00:00"}, "send_at"), ({"content": "x", "send_at": later(60), "reply_to_id": 999}, "reply_to_id"),
    ):  # fmt: skip
        assert bad_fields(await http.post("/messages", json={"chat_id": chat["id"], **body}, headers=alice.headers)) == {field}
    # A moment already past is an ordinary send.
    r = await http.post("/messages", json={"chat_id": chat["id"], "content": "past", "send_at": later(-5)}, headers=alice.headers)
    assert r.status_code == 201 and r.json()["seq"] == 1, r.text
    item = await schedule(http, alice, chat["id"], "x", 60)
    assert bad_fields(await http.patch(f"/scheduled/{item['id']}", json={"content": ""}, headers=alice.headers)) == {"content"}
    assert bad_fields(await http.patch(f"/scheduled/{item['id']}", json={"send_at": "soon"}, headers=alice.headers)) == {"send_at"}


async def test_an_author_who_left_gets_scheduled_failed_and_nothing_is_sent(http, cluster):
    alice, bob, _ = await pair(http)
    carol = await make_user(http)
    r = await http.post("/chats", json={"type": "group", "title": "g", "member_ids": [bob.id, carol.id]}, headers=alice.headers)
    group = r.json()
    item = await schedule(http, bob, group["id"], "from a leaver", 2)
    device = await Device.connect(cluster.apis[0].ws_url, bob, "bob")
    assert (await http.delete(f"/chats/{group['id']}/members/{bob.id}", headers=bob.headers)).status_code == 204
    failed = await device.next("scheduled_failed", timeout=15)
    assert failed["data"]["scheduled_id"] == item["id"] and failed["data"]["chat_id"] == group["id"]
    assert failed["data"]["reason"] == "not_a_member"
    assert await history(http, carol, group["id"]) == []
    await device.close()


async def test_a_websocket_message_frame_with_send_at_is_scheduled(http, cluster):
    alice, bob, chat = await pair(http)
    phone = await Device.connect(cluster.apis[0].ws_url, alice, "alice-ws")
    await phone.send("message", {"chat_id": chat["id"], "content": "over ws, later", "client_msg_id": "w-1", "send_at": later(3600)}, ref="s1")
    ack = await phone.next("message_ack")
    assert ack["ref"] == "s1" and ack["data"].get("message") is None
    scheduled = ack["data"]["scheduled"]
    assert (scheduled["content"], scheduled["client_msg_id"]) == ("over ws, later", "w-1")
    pending = (await http.get("/scheduled", headers=alice.headers)).json()["items"]
    assert [s["id"] for s in pending] == [scheduled["id"]]
    await phone.send("message", {"chat_id": chat["id"], "content": "x", "client_msg_id": "w-2", "send_at": "soon"}, ref="bad")
    error = await phone.next("error")
    assert error["ref"] == "bad" and error["data"]["code"] == "validation_error"
    assert await history(http, bob, chat["id"]) == []
    await phone.close()
