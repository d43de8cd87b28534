"""Messages over REST — gapless per-chat seq, idempotent sends, history pages, edit,
soft delete, read marks and receipts, the send rate limit, and who may see what. Real API
processes (two instances), PostgreSQL, Redis and the delivery worker."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx

from tests.support.checks import assert_envelope, fields_named, group_chat, poll_rows
from tests.support.clients import User, make_user, pair, send

MISSING = 999_999_999


async def post_message(http: httpx.AsyncClient, user: User, chat_id: int, content: Any, client_msg_id: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"chat_id": chat_id, "content": content}
    if client_msg_id is not None:
        body["client_msg_id"] = client_msg_id
    return await http.post("/messages", json=body, headers=user.headers)


async def history(http: httpx.AsyncClient, user: User, chat_id: int, **params: Any) -> dict[str, Any]:
    r = await http.get("/messages", params={"chat_id": chat_id, **params}, headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def chat_in_list(http: httpx.AsyncClient, user: User, chat_id: int) -> dict[str, Any]:
    items = (await http.get("/chats", headers=user.headers)).json()["items"]
    return next(c for c in items if c["id"] == chat_id)  # type: ignore[no-any-return]


# --- sending ------------------------------------------------------------------------------


async def test_send_returns_201_with_the_stored_message(http, pg):
    alice, bob, chat = await pair(http)
    r = await post_message(http, alice, chat["id"], "hello bob", "c-1")
    assert r.status_code == 201, r.text
    m = r.json()
    assert set(m) == {
        "id", "chat_id", "seq", "sender_id", "client_msg_id", "content", "created_at", "edited_at",
        "is_deleted", "delivered_at", "read_at", "reply_to", "mentions", "reactions", "attachments", "pinned",
    }  # fmt: skip
    assert (m["chat_id"], m["seq"], m["sender_id"], m["client_msg_id"], m["content"]) == (chat["id"], 1, alice.id, "c-1", "hello bob")
    assert m["created_at"].endswith("Z") and m["edited_at"] is None and m["is_deleted"] is False
    assert m["delivered_at"] is None and m["read_at"] is None
    second = await send(http, bob, chat["id"], "hi alice")
    assert second["seq"] == 2 and second["client_msg_id"] is None
    row = await pg.fetchrow("SELECT content, seq, sender_id FROM messages WHERE id = $1", m["id"])
    assert dict(row) == {"content": "hello bob", "seq": 1, "sender_id": alice.id}


async def test_send_seq_is_gapless_under_concurrent_members(http, http2, pg):
    owner = await make_user(http)
    others = [await make_user(http) for _ in range(3)]
    chat = await group_chat(http, owner, *others)
    senders = [owner, *others]
    clients = [http, http2]
    results = await asyncio.gather(
        *(post_message(clients[i % 2], senders[i % 4], chat["id"], f"m{i}") for i in range(24))
    )
    assert [r.status_code for r in results] == [201] * 24, [r.text for r in results if r.status_code != 201]
    assert sorted(r.json()["seq"] for r in results) == list(range(1, 25))
    rows = await pg.fetch("SELECT seq FROM messages WHERE chat_id = $1 ORDER BY seq", chat["id"])
    assert [r["seq"] for r in rows] == list(range(1, 25))
    got = (await http.get(f"/chats/{chat['id']}", headers=owner.headers)).json()
    assert got["last_seq"] == 24 and got["last_message"]["seq"] == 24
    # History in seq order matches what each sender was told.
    page = await history(http, owner, chat["id"], limit=24)
    told = {r.json()["seq"]: r.json()["content"] for r in results}
    assert [(m["seq"], m["content"]) for m in page["items"]] == sorted(told.items())


async def test_send_repeat_of_client_msg_id_returns_the_first_message(http, pg):
    alice, bob, chat = await pair(http)
    first = await post_message(http, alice, chat["id"], "once", "retry-me")
    assert first.status_code == 201
    again = await post_message(http, alice, chat["id"], "different text on retry", "retry-me")
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert await pg.fetchval("SELECT count(*) FROM messages") == 1
    # Another sender may use the same client_msg_id: it is per sender.
    other = await post_message(http, bob, chat["id"], "mine", "retry-me")
    assert other.status_code == 201 and other.json()["seq"] == 2
    assert await pg.fetchval("SELECT count(*) FROM messages") == 2


async def test_send_repeat_after_removal_returns_the_first_message_and_stores_nothing(http, pg):
    """The send statement finds the repeat itself (no lookup first); a member removed since
    the first send still gets that message back, and an outsider's new send is a 404."""
    owner, bob = await make_user(http), await make_user(http)
    chat = await group_chat(http, owner, bob)
    first = await post_message(http, bob, chat["id"], "before", "sent-once")
    assert first.status_code == 201
    r = await http.delete(f"/chats/{chat['id']}/members/{bob.id}", headers=owner.headers)
    assert r.status_code in (200, 204), r.text
    again = await post_message(http, bob, chat["id"], "after", "sent-once")
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert_envelope(await post_message(http, bob, chat["id"], "new", "never-sent"), 404, "not_found")
    assert await pg.fetchval("SELECT count(*) FROM messages WHERE chat_id = $1", chat["id"]) == 1


async def test_send_concurrent_repeats_store_once_and_leave_no_seq_gap(http, http2, pg):
    users = [await make_user(http) for _ in range(3)]
    chat = await group_chat(http, *users)
    firsts = []
    # Several rounds of 8 concurrent repeats (the race between the losers' seq allocation and
    # the winner's commit does not show every time); two rounds per sender stay under the limit.
    for round_no in range(6):
        sender = users[round_no % 3]
        results = await asyncio.gather(
            *(post_message((http, http2)[i % 2], sender, chat["id"], f"attempt {i}", f"same-{round_no}") for i in range(8))
        )
        assert sorted(r.status_code for r in results) == [200] * 7 + [201], [r.text for r in results]
        assert len({r.json()["id"] for r in results}) == 1
        winner = next(r.json() for r in results if r.status_code == 201)
        assert all(r.json() == winner for r in results)
        assert await pg.fetchval("SELECT count(*) FROM messages WHERE client_msg_id = $1", f"same-{round_no}") == 1
        firsts.append(winner)
    # The losing attempts left no trace in the chat's numbering.
    assert [m["seq"] for m in firsts] == [1, 2, 3, 4, 5, 6]
    assert await pg.fetchval("SELECT last_seq FROM chats WHERE id = $1", chat["id"]) == 6
    nxt = await send(http, users[0], chat["id"], "next")
    assert nxt["seq"] == 7
    got = (await http.get(f"/chats/{chat['id']}", headers=users[1].headers)).json()
    assert got["last_seq"] == 7 and got["last_message"]["id"] == nxt["id"]
    # Each stored message reached the others' inboxes exactly once.
    rows = await poll_rows(
        pg,
        "SELECT message_id FROM inbox_events WHERE user_id = $1 AND type = 'message' ORDER BY inbox_seq",
        users[2].id,
        until=lambda rows: len(rows) >= 7,
    )
    assert [r["message_id"] for r in rows] == [m["id"] for m in firsts] + [nxt["id"]]


async def test_send_content_length_is_1_to_4096(http, pg):
    alice, _, chat = await pair(http)
    for content in ("", "x" * 4097, "é" * 4097):
        r = await post_message(http, alice, chat["id"], content)
        assert fields_named(assert_envelope(r, 422, "validation_error")) == {"content"}
    assert await pg.fetchval("SELECT count(*) FROM messages") == 0
    ok = [await post_message(http, alice, chat["id"], c) for c in ("x", "é" * 4096, "😀" * 4096)]
    assert [r.status_code for r in ok] == [201, 201, 201]
    assert ok[2].json()["content"] == "😀" * 4096
    r = await http.patch(f"/messages/{ok[0].json()['id']}/edit", json={"content": "y" * 4097}, headers=alice.headers)
    assert fields_named(assert_envelope(r, 422, "validation_error")) == {"content"}
    r = await http.patch(f"/messages/{ok[0].json()['id']}/edit", json={"content": ""}, headers=alice.headers)
    assert fields_named(assert_envelope(r, 422, "validation_error")) == {"content"}


async def test_send_text_postgres_cannot_store_is_422_not_500(http, pg):
    alice, bob, chat = await pair(http)
    r = await post_message(http, alice, chat["id"], "nul\x00byte")
    assert fields_named(assert_envelope(r, 422, "validation_error")) == {"content"}
    r = await post_message(http, alice, chat["id"], "fine", "id\x00nul")
    assert fields_named(assert_envelope(r, 422, "validation_error")) == {"client_msg_id"}
    r = await http.post("/chats", json={"type": "group", "title": "a\x00b", "member_ids": [bob.id]}, headers=alice.headers)
    assert fields_named(assert_envelope(r, 422, "validation_error")) == {"title"}
    sent = await send(http, alice, chat["id"], "ok")
    r = await http.patch(f"/messages/{sent['id']}/edit", json={"content": "\x00"}, headers=alice.headers)
    assert fields_named(assert_envelope(r, 422, "validation_error")) == {"content"}
    assert await pg.fetchval("SELECT count(*) FROM messages") == 1


async def test_send_malformed_bodies_get_the_error_envelope(http, pg):
    alice, _, chat = await pair(http)
    json_header = {**alice.headers, "Content-Type": "application/json"}
    cases = [
        (await http.post("/messages", content=b"{oops", headers=json_header), None),
        (await http.post("/messages", content=b"chat_id=1", headers={**alice.headers, "Content-Type": "text/plain"}), None),
        (await http.post("/messages", json=["not", "an", "object"], headers=alice.headers), None),
        (await http.post("/messages", json={"content": "no chat"}, headers=alice.headers), "chat_id"),
        (await http.post("/messages", json={"chat_id": "abc", "content": "x"}, headers=alice.headers), "chat_id"),
        (await http.post("/messages", json={"chat_id": chat["id"]}, headers=alice.headers), "content"),
        (await http.post("/messages", json={"chat_id": chat["id"], "content": 5}, headers=alice.headers), "content"),
        (await http.post("/messages", json={"chat_id": chat["id"], "content": "x", "client_msg_id": "c" * 65}, headers=alice.headers), "client_msg_id"),
        (await http.post("/messages", json={"chat_id": chat["id"], "content": "x", "extra": 1}, headers=alice.headers), "extra"),
        (await http.post("/messages", json={"chat_id": 2**70, "content": "x"}, headers=alice.headers), "chat_id"),
        (await http.post("/messages/read", json={"chat_id": chat["id"], "up_to_seq": -1}, headers=alice.headers), "up_to_seq"),
        (await http.post("/messages/read", json={"chat_id": chat["id"]}, headers=alice.headers), "up_to_seq"),
        (await http.patch("/messages/1/edit", json={"text": "x"}, headers=alice.headers), "content"),
    ]
    for r, field in cases:
        body = assert_envelope(r, 422, "validation_error")
        assert "Traceback" not in r.text and "INSERT" not in r.text
        if field:
            assert field in fields_named(body), body
    assert await pg.fetchval("SELECT count(*) FROM messages") == 0


async def test_send_rate_limit_is_shared_across_instances(http, http2, pg):
    alice, bob, chat = await pair(http)
    sent = await asyncio.gather(
        *(post_message(http, alice, chat["id"], f"a{i}", f"cid-{i}") for i in range(15)),
        *(post_message(http2, alice, chat["id"], f"b{i}") for i in range(15)),
    )
    assert [r.status_code for r in sent] == [201] * 30
    for client in (http2, http):
        r = await post_message(client, alice, chat["id"], "one too many")
        assert_envelope(r, 429, "rate_limited")
        assert 1 <= int(r.headers["Retry-After"]) <= 10
    assert await pg.fetchval("SELECT count(*) FROM messages WHERE sender_id = $1", alice.id) == 30
    assert (await http.get(f"/chats/{chat['id']}", headers=alice.headers)).json()["last_seq"] == 30
    # A retry of an already-acknowledged message is not a new send: it still gets its ack.
    again = await post_message(http2, alice, chat["id"], "a0", "cid-0")
    assert again.status_code == 200 and again.json()["id"] == sent[0].json()["id"]
    # The limit is per user: bob may still send.
    assert (await post_message(http2, bob, chat["id"], "bob is fine")).status_code == 201


# --- history ------------------------------------------------------------------------------


async def test_history_pages_by_before_and_after_seq_ascending(http):
    alice, bob, chat = await pair(http)
    for i in range(1, 13):
        await send(http, alice if i % 2 else bob, chat["id"], f"m{i}")

    def seqs(page: dict[str, Any]) -> list[int]:
        return [m["seq"] for m in page["items"]]

    assert seqs(await history(http, bob, chat["id"])) == list(range(1, 13))
    assert seqs(await history(http, bob, chat["id"], limit=5)) == [8, 9, 10, 11, 12]
    assert seqs(await history(http, bob, chat["id"], before_seq=6, limit=3)) == [3, 4, 5]
    assert seqs(await history(http, bob, chat["id"], before_seq=3, limit=10)) == [1, 2]
    assert seqs(await history(http, bob, chat["id"], after_seq=4, limit=3)) == [5, 6, 7]
    assert seqs(await history(http, bob, chat["id"], after_seq=10, limit=10)) == [11, 12]
    assert seqs(await history(http, bob, chat["id"], after_seq=12)) == []
    page = await history(http, bob, chat["id"], before_seq=1)
    assert page == {"items": [], "next_cursor": None}
    assert [m["content"] for m in (await history(http, alice, chat["id"], after_seq=0, limit=2))["items"]] == ["m1", "m2"]


async def test_history_next_cursor_walks_back_through_everything(http):
    users = [await make_user(http) for _ in range(3)]
    chat = await group_chat(http, *users)
    for i in range(1, 24):
        await send(http, users[i % 3], chat["id"], f"m{i}")
    seen: list[int] = []
    page = await history(http, users[0], chat["id"], limit=5)
    while True:
        assert [m["seq"] for m in page["items"]] == sorted(m["seq"] for m in page["items"])
        seen = [m["seq"] for m in page["items"]] + seen
        if page["next_cursor"] is None:
            break
        page = await history(http, users[0], chat["id"], limit=5, cursor=page["next_cursor"])
    assert seen == list(range(1, 24))


async def test_history_next_cursor_walks_forward_from_after_seq(http):
    alice, bob, chat = await pair(http)
    for i in range(1, 18):
        await send(http, bob, chat["id"], f"m{i}")
    seen: list[int] = []
    page = await history(http, alice, chat["id"], after_seq=2, limit=4)
    for _ in range(10):
        seen += [m["seq"] for m in page["items"]]
        if page["next_cursor"] is None:
            break
        page = await history(http, alice, chat["id"], limit=4, cursor=page["next_cursor"])
    assert seen == list(range(3, 18))
    assert page["next_cursor"] is None


async def test_history_bad_queries_are_422(http):
    alice, _, chat = await pair(http)
    for params, field in (
        ({}, "chat_id"),
        ({"chat_id": "x"}, "chat_id"),
        ({"chat_id": chat["id"], "limit": 0}, "limit"),
        ({"chat_id": chat["id"], "limit": 201}, "limit"),
        ({"chat_id": chat["id"], "before_seq": -1}, "before_seq"),
        ({"chat_id": chat["id"], "after_seq": "soon"}, "after_seq"),
        ({"chat_id": chat["id"], "cursor": "###"}, "cursor"),
        ({"chat_id": chat["id"], "cursor": "eyJiIjoieCJ9"}, "cursor"),  # {"b":"x"}
    ):
        r = await http.get("/messages", params=params, headers=alice.headers)
        assert field in fields_named(assert_envelope(r, 422, "validation_error")), (params, r.text)


# --- edit and delete ----------------------------------------------------------------------


async def test_edit_by_sender_sets_edited_at_and_others_get_403(http, pg):
    alice, bob, chat = await pair(http)
    m = await send(http, alice, chat["id"], "tpyo")
    r = await http.patch(f"/messages/{m['id']}/edit", json={"content": "typo"}, headers=alice.headers)
    assert r.status_code == 200, r.text
    edited = r.json()
    assert edited["content"] == "typo" and edited["edited_at"] is not None and edited["seq"] == m["seq"]
    assert edited["edited_at"] >= m["created_at"]
    r = await http.patch(f"/messages/{m['id']}/edit", json={"content": "bob was here"}, headers=bob.headers)
    assert_envelope(r, 403, "forbidden")
    assert (await history(http, bob, chat["id"]))["items"][0]["content"] == "typo"
    assert await pg.fetchval("SELECT content FROM messages WHERE id = $1", m["id"]) == "typo"
    assert_envelope(await http.patch(f"/messages/{MISSING}/edit", json={"content": "x"}, headers=alice.headers), 404, "not_found")


async def test_edit_of_a_deleted_message_is_409(http):
    alice, _, chat = await pair(http)
    m = await send(http, alice, chat["id"], "gone soon")
    assert (await http.delete(f"/messages/{m['id']}/delete", headers=alice.headers)).status_code == 200
    r = await http.patch(f"/messages/{m['id']}/edit", json={"content": "back?"}, headers=alice.headers)
    assert_envelope(r, 409, "conflict")
    assert (await history(http, alice, chat["id"]))["items"][0]["content"] == ""


async def test_delete_is_soft_sender_only_idempotent_and_wipes_content_everywhere(http, pg):
    alice, bob, chat = await pair(http)
    await send(http, alice, chat["id"], "keep")
    m = await send(http, alice, chat["id"], "regrettable")
    assert_envelope(await http.delete(f"/messages/{m['id']}/delete", headers=bob.headers), 403, "forbidden")
    r = await http.delete(f"/messages/{m['id']}/delete", headers=alice.headers)
    assert r.status_code == 200, r.text
    deleted = r.json()
    assert deleted["is_deleted"] is True and deleted["content"] == "" and deleted["id"] == m["id"] and deleted["seq"] == 2
    again = await http.delete(f"/messages/{m['id']}/delete", headers=alice.headers)
    assert again.status_code == 200 and again.json() == deleted
    # History, the chat and the chat list all show it deleted, with no content.
    items = (await history(http, bob, chat["id"]))["items"]
    assert [(i["seq"], i["content"], i["is_deleted"]) for i in items] == [(1, "keep", False), (2, "", True)]
    for viewer in (alice, bob):
        listed = await chat_in_list(http, viewer, chat["id"])
        assert listed["last_message"]["id"] == m["id"] and listed["last_message"]["content"] == ""
        assert listed["last_message"]["is_deleted"] is True
        single = (await http.get(f"/chats/{chat['id']}", headers=viewer.headers)).json()
        assert single["last_message"]["content"] == ""
    # A deleted message is not unread.
    assert (await chat_in_list(http, bob, chat["id"]))["unread_count"] == 1
    row = await pg.fetchrow("SELECT content, is_deleted FROM messages WHERE id = $1", m["id"])
    assert dict(row) == {"content": "", "is_deleted": True}
    assert "regrettable" not in str(await pg.fetch("SELECT * FROM messages"))
    assert_envelope(await http.delete(f"/messages/{MISSING}/delete", headers=alice.headers), 404, "not_found")


# --- reading ------------------------------------------------------------------------------


async def test_read_marks_move_unread_counts(http):
    alice, bob, chat = await pair(http)
    for i in range(5):
        await send(http, alice, chat["id"], f"m{i}")
    assert (await chat_in_list(http, bob, chat["id"]))["unread_count"] == 5
    r = await http.post("/messages/read", json={"chat_id": chat["id"], "up_to_seq": 3}, headers=bob.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"chat_id": chat["id"], "read_seq": 3, "unread_count": 2, "unread_mentions": 0}
    assert (await chat_in_list(http, bob, chat["id"]))["unread_count"] == 2
    assert (await http.get(f"/chats/{chat['id']}", headers=bob.headers)).json()["unread_count"] == 2
    # Marks never move back.
    r = await http.post("/messages/read", json={"chat_id": chat["id"], "up_to_seq": 1}, headers=bob.headers)
    assert r.json() == {"chat_id": chat["id"], "read_seq": 3, "unread_count": 2, "unread_mentions": 0}
    # Beyond the end is clamped to the last message.
    r = await http.post("/messages/read", json={"chat_id": chat["id"], "up_to_seq": 10_000}, headers=bob.headers)
    assert r.json() == {"chat_id": chat["id"], "read_seq": 5, "unread_count": 0, "unread_mentions": 0}
    await send(http, alice, chat["id"], "m5")
    assert (await chat_in_list(http, bob, chat["id"]))["unread_count"] == 1
    assert (await chat_in_list(http, alice, chat["id"]))["unread_count"] == 0


async def test_read_at_is_set_once_every_other_member_read(http):
    alice, bob, carol = await make_user(http), await make_user(http), await make_user(http)
    chat = await group_chat(http, alice, bob, carol)
    m1 = await send(http, alice, chat["id"], "first")
    m2 = await send(http, alice, chat["id"], "second")
    await http.post("/messages/read", json={"chat_id": chat["id"], "up_to_seq": 2}, headers=bob.headers)
    items = (await history(http, alice, chat["id"]))["items"]
    assert [i["read_at"] for i in items] == [None, None]  # carol has not read yet
    r = await http.post("/messages/read", json={"chat_id": chat["id"], "up_to_seq": 1}, headers=carol.headers)
    assert r.json() == {"chat_id": chat["id"], "read_seq": 1, "unread_count": 1, "unread_mentions": 0}
    items = (await history(http, alice, chat["id"]))["items"]
    assert items[0]["read_at"] is not None and items[1]["read_at"] is None
    assert items[0]["delivered_at"] is not None  # reading implies delivered
    receipts = (await http.get(f"/messages/{m1['id']}/receipts", headers=alice.headers)).json()
    assert [r["user_id"] for r in receipts] == sorted([bob.id, carol.id])
    assert all(r["read_at"] and r["delivered_at"] for r in receipts)
    receipts = {r["user_id"]: r for r in (await http.get(f"/messages/{m2['id']}/receipts", headers=bob.headers)).json()}
    assert set(receipts) == {bob.id, carol.id}
    assert receipts[bob.id]["read_at"] is not None and receipts[carol.id]["read_at"] is None
    assert receipts[carol.id]["delivered_at"] is None
    # The sender's own reading does not count as the others'.
    await http.post("/messages/read", json={"chat_id": chat["id"], "up_to_seq": 2}, headers=alice.headers)
    assert (await history(http, alice, chat["id"]))["items"][1]["read_at"] is None


# --- access control -----------------------------------------------------------------------


async def test_message_routes_answer_outsiders_exactly_like_a_missing_chat(http, pg):
    alice, _, chat = await pair(http)
    outsider = await make_user(http)
    m = await send(http, alice, chat["id"], "top secret words")
    missing_chat = await http.get(f"/chats/{MISSING}", headers=outsider.headers)
    assert_envelope(missing_chat, 404, "not_found")

    async def calls(chat_id: int, message_id: int) -> list[httpx.Response]:
        h = outsider.headers
        return [
            await http.get(f"/chats/{chat_id}", headers=h),
            await http.post("/messages", json={"chat_id": chat_id, "content": "let me in"}, headers=h),
            await http.get("/messages", params={"chat_id": chat_id}, headers=h),
            await http.get("/messages", params={"chat_id": chat_id, "after_seq": 0}, headers=h),
            await http.patch(f"/messages/{message_id}/edit", json={"content": "hacked"}, headers=h),
            await http.delete(f"/messages/{message_id}/delete", headers=h),
            await http.post("/messages/read", json={"chat_id": chat_id, "up_to_seq": 1}, headers=h),
            await http.get(f"/messages/{message_id}/receipts", headers=h),
        ]

    hidden = await calls(chat["id"], m["id"])
    missing = await calls(MISSING, MISSING)
    for h, miss in zip(hidden, missing):
        assert_envelope(h, 404, "not_found")
        assert h.json() == miss.json() == missing_chat.json(), (h.request.url, h.text, miss.text)
        assert "top secret" not in h.text
    # Nothing the outsider tried changed anything.
    row = await pg.fetchrow("SELECT content, is_deleted, edited_at FROM messages WHERE id = $1", m["id"])
    assert dict(row) == {"content": "top secret words", "is_deleted": False, "edited_at": None}
    assert await pg.fetchval("SELECT count(*) FROM messages") == 1
    assert await pg.fetchval("SELECT count(*) FROM receipt_marks WHERE user_id = $1", outsider.id) == 0


async def test_message_routes_answer_impossible_ids_like_missing_ones(http):
    alice, _, chat = await pair(http)
    m = await send(http, alice, chat["id"], "x")
    missing = (await http.get(f"/chats/{MISSING}", headers=alice.headers)).json()
    for bad in (2**63, 2**70, -1, 0):
        for r in (
            await http.patch(f"/messages/{bad}/edit", json={"content": "y"}, headers=alice.headers),
            await http.delete(f"/messages/{bad}/delete", headers=alice.headers),
            await http.get(f"/messages/{bad}/receipts", headers=alice.headers),
        ):
            assert_envelope(r, 404, "not_found")
            assert r.json() == missing, (r.request.url, r.text)
    # The real message is untouched.
    assert (await history(http, alice, chat["id"]))["items"][0]["content"] == "x"
    assert m["seq"] == 1


async def test_history_forged_cursors_are_422(http):
    alice, _, chat = await pair(http)

    def cursor(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    for forged in ({"b": 10**25}, {"a": 2**63}, {"a": -1}, {"b": [1]}, [1, 2], "str"):
        r = await http.get("/messages", params={"chat_id": chat["id"], "cursor": cursor(forged)}, headers=alice.headers)
        assert fields_named(assert_envelope(r, 422, "validation_error")) == {"cursor"}, (forged, r.text)


# --- events for other members -------------------------------------------------------------


async def test_message_changes_reach_every_member_inbox(http, pg):
    """Message events go to every member; a receipt goes to the senders of the messages it
    covers (alice), not to every member (carol), so a group's acks do not grow as its square."""
    alice, bob, carol = await make_user(http), await make_user(http), await make_user(http)
    chat = await group_chat(http, alice, bob, carol)
    m = await send(http, alice, chat["id"], "v1")
    await http.patch(f"/messages/{m['id']}/edit", json={"content": "v2"}, headers=alice.headers)
    await http.delete(f"/messages/{m['id']}/delete", headers=alice.headers)
    await http.post("/messages/read", json={"chat_id": chat["id"], "up_to_seq": 1}, headers=bob.headers)
    sql = "SELECT user_id, type, message_id, payload FROM inbox_events WHERE chat_id = $1 AND type <> 'chat_updated' ORDER BY user_id, inbox_seq"

    def complete(rows: list[Any]) -> bool:
        return len(rows) >= 3 * 3 + 2  # three message events each, two receipts to alice

    rows = await poll_rows(pg, sql, chat["id"], until=complete)
    per_user: dict[int, list[str]] = {}
    for row in rows:
        per_user.setdefault(row["user_id"], []).append(row["type"])
    message_events = ["message", "message_edited", "message_deleted"]
    assert per_user[bob.id] == message_events
    assert per_user[alice.id] == [*message_events, "receipt", "receipt"]
    assert per_user[carol.id] == message_events
    assert {row["message_id"] for row in rows if row["type"].startswith("message")} == {m["id"]}
    assert await pg.fetchval("SELECT count(*) FROM outbox") == 0


async def test_message_send_and_outbox_row_commit_together(http, pg):
    """Every stored message has its outbox record (or, once drained, its inbox events)."""
    users = [await make_user(http) for _ in range(3)]
    chat = await group_chat(http, *users)
    sent = await asyncio.gather(*(send(http, users[i % 3], chat["id"], f"m{i}") for i in range(12)))
    ids = sorted(m["id"] for m in sent)
    sql = """SELECT m.id FROM messages m WHERE m.chat_id = $1 AND (
                 EXISTS (SELECT 1 FROM outbox o WHERE o.type = 'message' AND (o.payload->>'message_id')::bigint = m.id)
              OR (SELECT count(*) FROM inbox_events e WHERE e.type = 'message' AND e.message_id = m.id) = 3)
             ORDER BY m.id"""
    rows = await pg.fetch(sql, chat["id"])
    assert [r["id"] for r in rows] == ids
    delivered = await poll_rows(
        pg,
        "SELECT message_id, count(*) AS n FROM inbox_events WHERE type = 'message' GROUP BY message_id",
        until=lambda rows: len(rows) == 12 and all(r["n"] == 3 for r in rows),
    )
    assert sorted(r["message_id"] for r in delivered) == ids and all(r["n"] == 3 for r in delivered)
