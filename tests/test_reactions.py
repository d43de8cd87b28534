"""Reactions over REST and their `reactions` event: one emoji per member and message,
idempotent, members only, aggregated in first-reacted order with `me` for the reader. Real API
processes, PostgreSQL, Redis and the delivery worker."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx

from tests.support.checks import assert_error, group_chat, poll_rows
from tests.support.clients import Device, User, connect_devices, make_user, pair, send

THUMBS, HEART, FAMILY = "\U0001f44d", "\u2764\ufe0f", "\U0001f468\u200d\U0001f469\u200d\U0001f467"


async def react(http: httpx.AsyncClient, user: User, message_id: int, emoji: str, add: bool = True) -> httpx.Response:
    path = f"/messages/{message_id}/reactions/{quote(emoji, safe='')}"
    return await (http.put if add else http.delete)(path, headers=user.headers)


def summary(message: dict[str, Any]) -> list[tuple[str, int, bool]]:
    return [(r["emoji"], r["count"], r["me"]) for r in message["reactions"]]


async def test_reactions_aggregate_in_first_reacted_order_with_me_per_reader(http, pg):
    alice, bob, chat = await pair(http)
    message = await send(http, alice, chat["id"], "hello")
    assert summary((await react(http, bob, message["id"], HEART)).json()) == [(HEART, 1, True)]
    r = await react(http, alice, message["id"], THUMBS)
    assert r.status_code == 200, r.text
    assert summary(r.json()) == [(HEART, 1, False), (THUMBS, 1, True)]
    assert summary((await react(http, alice, message["id"], HEART)).json()) == [(HEART, 2, True), (THUMBS, 1, True)]
    # Each reader sees their own `me`, also in history.
    page = (await http.get("/messages", params={"chat_id": chat["id"]}, headers=bob.headers)).json()
    assert summary(page["items"][0]) == [(HEART, 2, True), (THUMBS, 1, False)]
    # Removing the last holder of an emoji drops it; the order of the rest is kept.
    assert summary((await react(http, alice, message["id"], THUMBS, add=False)).json()) == [(HEART, 2, True)]
    assert await pg.fetchval("SELECT jsonb_array_length(reactions) FROM messages WHERE id = $1", message["id"]) == 1


async def test_put_and_delete_are_idempotent_and_announce_only_changes(http, pg):
    alice, bob, chat = await pair(http)
    message = await send(http, alice, chat["id"], "hi")
    for _ in range(2):
        r = await react(http, bob, message["id"], THUMBS)
        assert r.status_code == 200 and summary(r.json()) == [(THUMBS, 1, True)]
    for _ in range(2):
        r = await react(http, bob, message["id"], THUMBS, add=False)
        assert r.status_code == 200 and summary(r.json()) == []
    # One event per change (the add and the remove, not the repeats) in each member's inbox.
    rows = await poll_rows(
        pg,
        "SELECT user_id, count(*) AS n FROM inbox_events WHERE type = 'reactions' AND message_id = $1 GROUP BY user_id",
        message["id"],
        until=lambda rows: sum(row["n"] for row in rows) >= 4,
    )
    assert sorted((row["user_id"], row["n"]) for row in rows) == sorted([(alice.id, 2), (bob.id, 2)])


async def test_the_reactions_event_carries_the_receivers_me(http, cluster):
    alice, bob, chat = await pair(http)
    message = await send(http, alice, chat["id"], "hi")
    a, b = await connect_devices((cluster.apis[0].ws_url, alice, "a"), (cluster.apis[1].ws_url, bob, "b"))
    await a.messages_until(1)
    await b.messages_until(1)
    await react(http, bob, message["id"], FAMILY)
    assert (await a.next("reactions"))["data"]["reactions"] == [{"emoji": FAMILY, "count": 1, "me": False}]
    assert (await b.next("reactions"))["data"]["reactions"] == [{"emoji": FAMILY, "count": 1, "me": True}]
    await a.close()
    await b.close()


async def test_only_one_emoji_is_a_reaction(http):
    alice, bob, chat = await pair(http)
    message = await send(http, alice, chat["id"], "hi")
    for bad in ["a", "ok", THUMBS + THUMBS, THUMBS + " ", ":)", "\U0001f44d\u200d" * 6, "x" * 40]:
        r = await react(http, bob, message["id"], bad)
        assert_error(r, 422, "validation_error")
        assert {d["field"] for d in r.json()["error"]["details"]} == {"emoji"}, bad
    for good in ["\U0001f44d\U0001f3fd", "\U0001f1fa\U0001f1e6", "#\ufe0f\u20e3", FAMILY]:
        assert (await react(http, bob, message["id"], good)).status_code == 200, good


async def test_at_most_twenty_distinct_emoji_per_message(http):
    alice, bob, chat = await pair(http)
    message = await send(http, alice, chat["id"], "hi")
    faces = [chr(0x1F600 + i) for i in range(21)]
    for face in faces[:20]:
        assert (await react(http, bob, message["id"], face)).status_code == 200
    assert_error(await react(http, alice, message["id"], faces[20]), 409, "conflict")
    # An emoji already there still takes more people.
    r = await react(http, alice, message["id"], faces[0])
    assert r.status_code == 200 and summary(r.json())[0] == (faces[0], 2, True) and len(r.json()["reactions"]) == 20


async def test_outsiders_removed_members_and_missing_messages_get_404(http, pg):
    owner, member, outsider = await make_user(http), await make_user(http), await make_user(http)
    chat = await group_chat(http, owner, member)
    message = await send(http, owner, chat["id"], "hi")
    assert_error(await react(http, outsider, message["id"], THUMBS), 404, "not_found")
    assert_error(await react(http, outsider, message["id"], THUMBS, add=False), 404, "not_found")
    assert_error(await react(http, owner, 999_999_999, THUMBS), 404, "not_found")
    assert_error(await react(http, owner, 2**63, THUMBS), 404, "not_found")
    assert (await react(http, member, message["id"], HEART)).status_code == 200
    r = await http.delete(f"/chats/{chat['id']}/members/{member.id}", headers=owner.headers)
    assert r.status_code == 204
    # A removed member can neither add nor take back a reaction; what they left stays.
    assert_error(await react(http, member, message["id"], THUMBS), 404, "not_found")
    assert_error(await react(http, member, message["id"], HEART, add=False), 404, "not_found")
    stored = json.loads(await pg.fetchval("SELECT reactions::text FROM messages WHERE id = $1", message["id"]))
    assert stored == [{"emoji": HEART, "user_ids": [member.id]}]
    assert_error(await http.put(f"/messages/{message['id']}/reactions/x"), 401, "unauthorized")


async def test_a_deleted_message_takes_no_reactions_and_loses_its_own(http):
    alice, bob, chat = await pair(http)
    message = await send(http, alice, chat["id"], "hi")
    await react(http, bob, message["id"], THUMBS)
    deleted = (await http.delete(f"/messages/{message['id']}", headers=alice.headers)).json()
    assert deleted["is_deleted"] is True and deleted["reactions"] == []
    assert_error(await react(http, bob, message["id"], HEART), 409, "conflict")
    assert (await react(http, bob, message["id"], THUMBS, add=False)).status_code == 200


async def test_reactions_share_the_send_rate_limit(http, cluster):
    alice, _bob, chat = await pair(http)
    message = await send(http, alice, chat["id"], "hi")
    faces = [chr(0x1F600 + i) for i in range(20)]
    statuses = []
    for i in range(40):  # RATE_LIMIT_MESSAGES is 30 per 10 s; the send above spent one
        statuses.append((await react(http, alice, message["id"], faces[i % 20], add=i < 20)).status_code)
    assert statuses.count(429) >= 10 and set(statuses) == {200, 429}, statuses
    r = await http.post("/messages", json={"chat_id": chat["id"], "content": "more"}, headers=alice.headers)
    assert_error(r, 429, "rate_limited")


async def test_a_removed_member_replays_reactions_events_without_the_reactions(http, cluster, pg):
    owner, member = await make_user(http), await make_user(http)
    chat = await group_chat(http, owner, member)
    message = await send(http, owner, chat["id"], "hi")
    await react(http, owner, message["id"], THUMBS)
    await poll_rows(
        pg, "SELECT 1 FROM inbox_events WHERE user_id = $1 AND type = 'reactions'", member.id, until=bool
    )
    assert (await http.delete(f"/chats/{chat['id']}/members/{member.id}", headers=owner.headers)).status_code == 204
    # A new device of the removed member replays everything it was sent, showing nothing of the chat.
    device = await Device.connect(cluster.apis[0].ws_url, member, "new")
    frame = await device.next("reactions")
    assert frame["data"] == {"inbox_seq": frame["data"]["inbox_seq"], "chat_id": chat["id"], "message_id": message["id"], "reactions": []}
    assert (await device.next("chat_updated"))["data"]["chat"] == {"id": chat["id"], "removed": True}
    await device.close()
