"""Chats over REST — direct and group chats, roles, the chat list and who may see what
(membership: tests/test_chat_members.py). Real API processes, PostgreSQL, Redis and the delivery worker."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx

from tests.support.checks import assert_envelope, fields_named, group_chat
from tests.support.clients import User, direct_chat, make_user, send

MISSING_CHAT = 999_999_999


def roles(chat: dict[str, Any]) -> dict[int, str]:
    return {m["user_id"]: m["role"] for m in chat["members"]}


# --- direct chats -------------------------------------------------------------------------


async def test_direct_chat_created_once_then_returned_with_200(http, pg):
    alice, bob = await make_user(http), await make_user(http)
    r1 = await http.post("/chats", json={"type": "direct", "member_ids": [bob.id]}, headers=alice.headers)
    assert r1.status_code == 201, r1.text
    chat = r1.json()
    assert chat["type"] == "direct" and chat["title"] is None
    assert roles(chat) == {alice.id: "member", bob.id: "member"}
    assert {m["username"] for m in chat["members"]} == {alice.username, bob.username}
    assert chat["last_message"] is None and chat["last_seq"] == 0 and chat["unread_count"] == 0
    assert chat["created_at"].endswith("Z")
    r2 = await http.post("/chats", json={"type": "direct", "member_ids": [bob.id]}, headers=alice.headers)
    assert r2.status_code == 200 and r2.json()["id"] == chat["id"]
    # The other side asking for the pair gets the same chat too.
    r3 = await http.post("/chats", json={"type": "direct", "member_ids": [alice.id]}, headers=bob.headers)
    assert r3.status_code == 200 and r3.json()["id"] == chat["id"]
    assert await pg.fetchval("SELECT count(*) FROM chats") == 1
    assert await pg.fetchval("SELECT count(*) FROM chat_members") == 2


async def test_direct_chat_concurrent_creation_yields_exactly_one_chat(http, http2, pg):
    users = [await make_user(http) for _ in range(6)]
    pairs = [(users[i], users[j]) for i in range(len(users)) for j in range(i + 1, len(users))]

    async def create(client: httpx.AsyncClient, a: User, b: User) -> httpx.Response:
        return await client.post("/chats", json={"type": "direct", "member_ids": [b.id]}, headers=a.headers)

    # Both sides of every pair at once, over both instances.
    results = await asyncio.gather(*(create(http, a, b) for a, b in pairs), *(create(http2, b, a) for a, b in pairs))
    n = len(pairs)
    for first, second in zip(results[:n], results[n:]):
        assert sorted([first.status_code, second.status_code]) == [200, 201], (first.text, second.text)
        assert first.json()["id"] == second.json()["id"]
        assert len(first.json()["members"]) == 2
    assert await pg.fetchval("SELECT count(*) FROM chats WHERE type = 'direct'") == n
    assert await pg.fetchval("SELECT count(*) FROM chat_members") == 2 * n


async def test_direct_chat_with_oneself_is_422(http, pg):
    alice = await make_user(http)
    r = await http.post("/chats", json={"type": "direct", "member_ids": [alice.id]}, headers=alice.headers)
    body = assert_envelope(r, 422, "validation_error")
    assert "member_ids" in fields_named(body)
    assert await pg.fetchval("SELECT count(*) FROM chats") == 0


async def test_direct_chat_with_unknown_user_is_404(http, pg):
    alice = await make_user(http)
    r = await http.post("/chats", json={"type": "direct", "member_ids": [MISSING_CHAT]}, headers=alice.headers)
    assert_envelope(r, 404, "not_found")
    assert await pg.fetchval("SELECT count(*) FROM chats") == 0


async def test_direct_chat_needs_exactly_one_other_member(http):
    alice, bob, carol = await make_user(http), await make_user(http), await make_user(http)
    for member_ids in ([], [bob.id, carol.id]):
        r = await http.post("/chats", json={"type": "direct", "member_ids": member_ids}, headers=alice.headers)
        assert "member_ids" in fields_named(assert_envelope(r, 422, "validation_error"))


# --- group chats --------------------------------------------------------------------------


async def test_group_chat_creator_is_owner(http):
    alice, bob, carol = await make_user(http), await make_user(http), await make_user(http)
    r = await http.post(
        "/chats",
        json={"type": "group", "title": "Weekend", "member_ids": [bob.id, carol.id, bob.id, alice.id]},
        headers=alice.headers,
    )
    assert r.status_code == 201, r.text
    chat = r.json()
    assert chat["type"] == "group" and chat["title"] == "Weekend"
    assert roles(chat) == {alice.id: "owner", bob.id: "member", carol.id: "member"}
    # Every member sees it.
    for user in (bob, carol):
        got = await http.get(f"/chats/{chat['id']}", headers=user.headers)
        assert got.status_code == 200 and got.json()["id"] == chat["id"]


async def test_group_chat_without_title_is_422(http):
    alice, bob = await make_user(http), await make_user(http)
    r = await http.post("/chats", json={"type": "group", "member_ids": [bob.id]}, headers=alice.headers)
    assert "title" in fields_named(assert_envelope(r, 422, "validation_error"))
    r = await http.post("/chats", json={"type": "group", "title": "", "member_ids": [bob.id]}, headers=alice.headers)
    assert "title" in fields_named(assert_envelope(r, 422, "validation_error"))


async def test_group_chat_with_unknown_member_is_404_and_stores_nothing(http, pg):
    alice, bob = await make_user(http), await make_user(http)
    r = await http.post(
        "/chats", json={"type": "group", "title": "x", "member_ids": [bob.id, MISSING_CHAT]}, headers=alice.headers
    )
    assert_envelope(r, 404, "not_found")
    assert await pg.fetchval("SELECT count(*) FROM chats") == 0


# --- access control -----------------------------------------------------------------------


async def test_chat_outsider_gets_the_same_404_as_for_a_missing_chat(http, pg):
    owner, bob, outsider = await make_user(http), await make_user(http), await make_user(http)
    chat = await group_chat(http, owner, bob, title="secret plans")
    await send(http, owner, chat["id"], "the secret content")

    async def calls(chat_id: int) -> list[httpx.Response]:
        return [
            await http.get(f"/chats/{chat_id}", headers=outsider.headers),
            await http.post(f"/chats/{chat_id}/members", json={"user_ids": [outsider.id]}, headers=outsider.headers),
            await http.delete(f"/chats/{chat_id}/members/{bob.id}", headers=outsider.headers),
            await http.delete(f"/chats/{chat_id}/members/{outsider.id}", headers=outsider.headers),
        ]

    hidden, missing = await calls(chat["id"]), await calls(MISSING_CHAT)
    for h, m in zip(hidden, missing):
        assert_envelope(h, 404, "not_found")
        assert h.json() == m.json()
        assert "secret" not in h.text
    # Nothing changed: the outsider did not get in and bob was not removed.
    assert roles((await http.get(f"/chats/{chat['id']}", headers=owner.headers)).json()) == {owner.id: "owner", bob.id: "member"}
    listed = (await http.get("/chats", headers=outsider.headers)).json()
    assert listed == {"items": [], "next_cursor": None}


async def test_chat_routes_answer_impossible_ids_like_missing_ones(http):
    owner, bob = await make_user(http), await make_user(http)
    chat = await group_chat(http, owner, bob)
    missing = (await http.get(f"/chats/{MISSING_CHAT}", headers=owner.headers)).json()
    for bad in (2**63, 2**70, -1, 0):
        for r in (
            await http.get(f"/chats/{bad}", headers=owner.headers),
            await http.post(f"/chats/{bad}/members", json={"user_ids": [bob.id]}, headers=owner.headers),
            await http.delete(f"/chats/{bad}/members/{bob.id}", headers=owner.headers),
        ):
            assert_envelope(r, 404, "not_found")
            assert r.json() == missing, (r.request.url, r.text)
        # Removing a user id that cannot exist from a real group: 404, not 500.
        r = await http.delete(f"/chats/{chat['id']}/members/{bad}", headers=owner.headers)
        assert_envelope(r, 404, "not_found")
    assert len((await http.get(f"/chats/{chat['id']}", headers=owner.headers)).json()["members"]) == 2


async def test_chat_list_forged_cursor_is_422(http):
    alice = await make_user(http)
    for forged in ({"t": "2020-01-01T00:00:00+00:00", "id": 10**25}, {"t": "yesterday", "id": 1}, {"id": 1}, [1]):
        cursor = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
        r = await http.get("/chats", params={"cursor": cursor}, headers=alice.headers)
        assert fields_named(assert_envelope(r, 422, "validation_error")) == {"cursor"}, (forged, r.text)


async def test_chat_routes_need_a_token(http):
    for r in (
        await http.get("/chats"),
        await http.get("/chats/1"),
        await http.post("/chats", json={"type": "direct", "member_ids": [1]}),
        await http.get("/chats/1", headers={"Authorization": "Bearer not-a-token"}),
    ):
        assert_envelope(r, 401, "unauthorized")


async def test_chat_malformed_bodies_get_the_error_envelope(http):
    alice, bob = await make_user(http), await make_user(http)
    chat = await group_chat(http, alice, bob)
    bad = [
        await http.post("/chats", content=b"{not json", headers={**alice.headers, "Content-Type": "application/json"}),
        await http.post("/chats", content=b"type=direct", headers={**alice.headers, "Content-Type": "text/plain"}),
        await http.post("/chats", json=[1, 2], headers=alice.headers),
        await http.post("/chats", json={"type": "channel", "member_ids": [bob.id]}, headers=alice.headers),
        await http.post("/chats", json={"type": "direct", "member_ids": "x"}, headers=alice.headers),
        await http.post("/chats", json={"type": "direct", "member_ids": [0]}, headers=alice.headers),
        await http.post("/chats", json={"type": "direct", "member_ids": [bob.id], "admin": True}, headers=alice.headers),
        await http.post("/chats", json={"type": "group", "title": "t" * 129}, headers=alice.headers),
        await http.post(f"/chats/{chat['id']}/members", json={"user_ids": ["abc"]}, headers=alice.headers),
        await http.post(f"/chats/{chat['id']}/members", json={}, headers=alice.headers),
        await http.get("/chats", params={"limit": 0}, headers=alice.headers),
        await http.get("/chats", params={"limit": 201}, headers=alice.headers),
        await http.get("/chats", params={"cursor": "!!garbage!!"}, headers=alice.headers),
    ]
    for r in bad:
        assert_envelope(r, 422, "validation_error")
        assert "Traceback" not in r.text and "SELECT" not in r.text
    assert "type" in fields_named(bad[3].json())
    assert "member_ids.0" in fields_named(bad[5].json())
    assert "title" in fields_named(bad[7].json())
    assert "cursor" in fields_named(bad[-1].json())


# --- the chat list ------------------------------------------------------------------------


async def test_chat_list_latest_activity_first_with_last_message_and_unread(http):
    me, a, b, c = [await make_user(http) for _ in range(4)]
    chat_a = await direct_chat(http, me, a)
    chat_b = await direct_chat(http, me, b)
    chat_c = await direct_chat(http, me, c)
    await send(http, a, chat_a["id"], "a1")
    await send(http, a, chat_a["id"], "a2")
    await send(http, c, chat_c["id"], "c1")
    await send(http, me, chat_b["id"], "b-from-me")
    r = await http.get("/chats", headers=me.headers)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["next_cursor"] is None
    assert [ch["id"] for ch in page["items"]] == [chat_b["id"], chat_c["id"], chat_a["id"]]
    by_id = {ch["id"]: ch for ch in page["items"]}
    assert by_id[chat_a["id"]]["last_message"]["content"] == "a2"
    assert by_id[chat_a["id"]]["last_seq"] == 2 and by_id[chat_a["id"]]["unread_count"] == 2
    assert by_id[chat_c["id"]]["unread_count"] == 1
    # One's own messages are never unread.
    assert by_id[chat_b["id"]]["unread_count"] == 0 and by_id[chat_b["id"]]["last_message"]["sender_id"] == me.id
    # New activity moves a chat to the top.
    await send(http, a, chat_a["id"], "a3")
    page = (await http.get("/chats", headers=me.headers)).json()
    assert page["items"][0]["id"] == chat_a["id"] and page["items"][0]["unread_count"] == 3
    # The other side's view counts its own unread.
    other = (await http.get("/chats", headers=b.headers)).json()["items"]
    assert [(ch["id"], ch["unread_count"]) for ch in other] == [(chat_b["id"], 1)]


async def test_chat_list_pages_by_next_cursor_without_gaps_or_repeats(http):
    me = await make_user(http)
    others = [await make_user(http) for _ in range(7)]
    chats = [await direct_chat(http, me, o) for o in others]
    # Activity in a shuffled order decides the expected order (latest first).
    order = [3, 0, 6, 1, 5, 2, 4]
    for i in order:
        await send(http, others[i], chats[i]["id"], f"hi {i}")
    expected = [chats[i]["id"] for i in reversed(order)]
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        r = await http.get("/chats", params=params, headers=me.headers)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 3
        seen += [ch["id"] for ch in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 10
    assert seen == expected
    assert pages == 3
