"""Messages over REST after the send (tests/test_send.py): history pages, edit, soft delete,
read marks and receipts, and who may see what. Real API
processes (two instances), PostgreSQL, Redis and the delivery worker."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx

from tests.support.checks import assert_envelope, fields_named, group_chat, poll_rows
from tests.support.clients import chat_in_list, history, make_user, pair, send

MISSING = 999_999_999



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
