"""Disappearing messages over the real cluster (contract: message_ttl): a message stored while
its chat has a timer carries expires_at and, within 5 s after it, is gone for everyone as a
delete is, and more: content, reactions, mentions, pin, search entry, reply previews, the text
inside earlier inbox events, and its attachment with the bytes."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx

from tests.conftest import make_stack
from tests.support.checks import assert_error
from tests.support.clients import Device, make_user, pair, send
from tests.support.databases import asyncpg_url
from tests.test_attachments import png, upload


async def test_an_expired_message_is_gone_everywhere(http, pg, backing, cluster):
    alice, bob, chat = await pair(http)
    kept = await send(http, alice, chat["id"], "before the timer")
    assert kept["expires_at"] is None
    r = await http.patch(f"/chats/{chat['id']}", json={"message_ttl": 5}, headers=alice.headers)
    assert r.status_code == 200 and r.json()["message_ttl"] == 5
    file = (await upload(http, alice, png(), name="p.png")).json()
    r = await http.post(
        "/messages", json={"chat_id": chat["id"], "content": f"vanishing words @{bob.username}", "attachment_ids": [file["id"]]},
        headers=alice.headers,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    doomed = r.json()
    assert datetime.fromisoformat(doomed["expires_at"]) == datetime.fromisoformat(doomed["created_at"]) + timedelta(seconds=5)
    reply = (await http.post("/messages", json={"chat_id": chat["id"], "content": "re", "reply_to_id": doomed["id"]}, headers=bob.headers)).json()
    assert reply["reply_to"]["preview"].startswith("vanishing")
    assert (await http.put(f"/messages/{doomed['id']}/reactions/%F0%9F%91%8D", headers=bob.headers)).status_code == 200
    assert (await http.put(f"/chats/{chat['id']}/pins/{doomed['id']}", headers=bob.headers)).status_code == 200
    key = await pg.fetchval("SELECT storage_key FROM attachments WHERE id = $1", file["id"])
    stored = Path(urlsplit(backing.env["STORAGE_URL"]).path) / key[:2] / key[2:4] / key  # app/media/local.py's layout
    assert stored.exists()
    watcher = await Device.connect(cluster.apis[1].ws_url, bob, "bob-phone")
    deleted = None
    while deleted is None or deleted["data"]["message"]["id"] != doomed["id"]:
        deleted = await watcher.next("message_deleted", timeout=15)
    gone_at = datetime.fromisoformat(doomed["expires_at"])
    history = (await http.get("/messages", params={"chat_id": chat["id"]}, headers=bob.headers)).json()["items"]
    by_id = {m["id"]: m for m in history}
    assert by_id[kept["id"]]["content"] == "before the timer"
    wiped = by_id[doomed["id"]]
    assert (wiped["content"], wiped["is_deleted"], wiped["reactions"], wiped["mentions"], wiped["attachments"], wiped["pinned"]) == (
        "", True, [], [], [], False,
    )  # fmt: skip
    assert by_id[reply["id"]]["reply_to"]["preview"] == ""
    assert (await http.get(f"/chats/{chat['id']}/pins", headers=bob.headers)).json()["items"] == []
    assert (await http.get("/messages/search", params={"q": "vanishing"}, headers=bob.headers)).json()["items"] == []
    assert_error(await http.get(f"/attachments/{file['id']}", headers=bob.headers), 404, "not_found")
    assert not stored.exists()
    assert await pg.fetchval("SELECT count(*) FROM messages WHERE content LIKE 'vanishing%'") == 0
    # A device replaying the inbox from the start sees the event, not the words.
    fresh = await Device.connect(cluster.apis[0].ws_url, bob, "bob-new-device")
    replayed = None
    while replayed is None or replayed["data"]["message"]["id"] != doomed["id"]:
        replayed = await fresh.next("message", timeout=15)
    assert replayed["data"]["message"]["content"] == "" and replayed["data"]["message"]["is_deleted"] is True
    assert datetime.now(gone_at.tzinfo) >= gone_at
    # Turning the timer off changes only later messages.
    await http.patch(f"/chats/{chat['id']}", json={"message_ttl": None}, headers=alice.headers)
    assert (await send(http, alice, chat["id"], "stays"))["expires_at"] is None
    await watcher.close()
    await fresh.close()


async def test_the_timer_is_set_by_members_and_announced(http, cluster):
    alice, bob, chat = await pair(http)
    outsider = await make_user(http)
    assert_error(await http.patch(f"/chats/{chat['id']}", json={"message_ttl": 60}, headers=outsider.headers), 404, "not_found")
    watcher = await Device.connect(cluster.apis[0].ws_url, alice, "a")
    assert (await http.patch(f"/chats/{chat['id']}", json={"message_ttl": 60}, headers=bob.headers)).status_code == 200
    updates = []
    while 60 not in updates:
        updates.append((await watcher.next("chat_updated"))["data"]["chat"]["message_ttl"])
    sent = await send(http, alice, chat["id"], "a minute")
    assert datetime.fromisoformat(sent["expires_at"]) - datetime.fromisoformat(sent["created_at"]) == timedelta(seconds=60)
    await asyncio.sleep(0)
    await watcher.close()


async def test_messages_past_the_retention_are_removed_as_disappearing_ones_are(stacks, backing):
    """MESSAGE_RETENTION_DAYS: the `retain` job walks messages by id from a cursor and gives
    those older than the cutoff an expiry; the `expire` job then wipes them, for every chat."""
    stack = await make_stack(stacks, backing, MESSAGE_RETENTION_DAYS="1")
    api = stack.add_api()
    stack.add_worker()
    async with httpx.AsyncClient(base_url=api.base_url, timeout=15.0) as client:
        alice, bob, chat = await pair(client)
        for i in range(3):
            await send(client, alice, chat["id"], f"old {i}")
        await send(client, bob, chat["id"], "recent")
        conn = await asyncpg.connect(asyncpg_url(stack.database_url))
        try:  # the first three were stored two days ago
            await conn.execute("UPDATE messages SET created_at = now() - interval '2 days' WHERE content LIKE 'old %'")
        finally:
            await conn.close()
        for _ in range(150):
            items = (await client.get("/messages", params={"chat_id": chat["id"]}, headers=bob.headers)).json()["items"]
            if all(m["is_deleted"] for m in items[:3]):
                break
            await asyncio.sleep(0.2)
        assert [(m["seq"], m["content"], m["is_deleted"]) for m in items] == [
            (1, "", True), (2, "", True), (3, "", True), (4, "recent", False),
        ]  # fmt: skip
