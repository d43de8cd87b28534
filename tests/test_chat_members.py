"""Chat membership over REST: who may add and remove members, leaving, the owner's
succession, and what members and former members see of those changes in their inboxes.
Real API processes, PostgreSQL, Redis and the delivery worker."""

from __future__ import annotations

from typing import Any

from tests.support.checks import assert_envelope, fields_named, group_chat, poll_rows
from tests.support.clients import Device, direct_chat, make_user, send

MISSING_CHAT = 999_999_999


def roles(chat: dict[str, Any]) -> dict[int, str]:
    return {m["user_id"]: m["role"] for m in chat["members"]}


# --- membership ---------------------------------------------------------------------------


async def test_members_add_by_owner_and_admin_only(http, pg):
    owner, admin, member, newcomer, late = [await make_user(http) for _ in range(5)]
    chat = await group_chat(http, owner, admin, member)
    await pg.execute("UPDATE chat_members SET role = 'admin' WHERE chat_id = $1 AND user_id = $2", chat["id"], admin.id)

    r = await http.post(f"/chats/{chat['id']}/members", json={"user_ids": [newcomer.id]}, headers=member.headers)
    assert_envelope(r, 403, "forbidden")
    assert newcomer.id not in roles((await http.get(f"/chats/{chat['id']}", headers=owner.headers)).json())

    r = await http.post(f"/chats/{chat['id']}/members", json={"user_ids": [newcomer.id]}, headers=owner.headers)
    assert r.status_code == 200, r.text
    assert roles(r.json())[newcomer.id] == "member"
    r = await http.post(f"/chats/{chat['id']}/members", json={"user_ids": [late.id, newcomer.id]}, headers=admin.headers)
    assert r.status_code == 200, r.text
    assert roles(r.json()) == {owner.id: "owner", admin.id: "admin", member.id: "member", newcomer.id: "member", late.id: "member"}
    # The added users see the chat now.
    assert (await http.get(f"/chats/{chat['id']}", headers=late.headers)).status_code == 200


async def test_members_add_to_direct_chat_is_403(http):
    alice, bob, carol = await make_user(http), await make_user(http), await make_user(http)
    chat = await direct_chat(http, alice, bob)
    r = await http.post(f"/chats/{chat['id']}/members", json={"user_ids": [carol.id]}, headers=alice.headers)
    assert_envelope(r, 403, "forbidden")
    assert len((await http.get(f"/chats/{chat['id']}", headers=alice.headers)).json()["members"]) == 2


async def test_members_add_unknown_user_is_404(http):
    alice, bob = await make_user(http), await make_user(http)
    chat = await group_chat(http, alice, bob)
    r = await http.post(f"/chats/{chat['id']}/members", json={"user_ids": [MISSING_CHAT]}, headers=alice.headers)
    assert_envelope(r, 404, "not_found")
    r = await http.post(f"/chats/{chat['id']}/members", json={"user_ids": []}, headers=alice.headers)
    assert "user_ids" in fields_named(assert_envelope(r, 422, "validation_error"))


async def test_members_remove_by_owner_then_removed_member_gets_404(http):
    owner, bob, carol = await make_user(http), await make_user(http), await make_user(http)
    chat = await group_chat(http, owner, bob, carol)
    await send(http, owner, chat["id"], "before")
    r = await http.delete(f"/chats/{chat['id']}/members/{bob.id}", headers=owner.headers)
    assert r.status_code == 204, r.text
    assert r.content == b""
    missing = await http.get(f"/chats/{MISSING_CHAT}", headers=bob.headers)
    got = await http.get(f"/chats/{chat['id']}", headers=bob.headers)
    assert got.status_code == 404 and got.json() == missing.json()
    history = await http.get("/messages", params={"chat_id": chat["id"]}, headers=bob.headers)
    assert history.status_code == 404 and "before" not in history.text
    r = await http.post("/messages", json={"chat_id": chat["id"], "content": "still here?"}, headers=bob.headers)
    assert r.status_code == 404
    listed = (await http.get("/chats", headers=bob.headers)).json()["items"]
    assert chat["id"] not in [c["id"] for c in listed]
    assert bob.id not in roles((await http.get(f"/chats/{chat['id']}", headers=carol.headers)).json())


async def test_members_leave_self_answers_204(http):
    owner, bob = await make_user(http), await make_user(http)
    chat = await group_chat(http, owner, bob)
    r = await http.delete(f"/chats/{chat['id']}/members/{bob.id}", headers=bob.headers)
    assert r.status_code == 204, r.text
    assert (await http.get(f"/chats/{chat['id']}", headers=bob.headers)).status_code == 404
    assert roles((await http.get(f"/chats/{chat['id']}", headers=owner.headers)).json()) == {owner.id: "owner"}


async def test_members_remove_needs_rank(http, pg):
    owner, admin, admin2, bob, carol = [await make_user(http) for _ in range(5)]
    chat = await group_chat(http, owner, admin, admin2, bob, carol)
    await pg.execute(
        "UPDATE chat_members SET role = 'admin' WHERE chat_id = $1 AND user_id = ANY($2::bigint[])",
        chat["id"],
        [admin.id, admin2.id],
    )
    # A plain member removes nobody else.
    assert_envelope(await http.delete(f"/chats/{chat['id']}/members/{carol.id}", headers=bob.headers), 403, "forbidden")
    # An admin removes members, but neither the owner nor another admin.
    assert_envelope(await http.delete(f"/chats/{chat['id']}/members/{owner.id}", headers=admin.headers), 403, "forbidden")
    assert_envelope(await http.delete(f"/chats/{chat['id']}/members/{admin2.id}", headers=admin.headers), 403, "forbidden")
    assert (await http.delete(f"/chats/{chat['id']}/members/{carol.id}", headers=admin.headers)).status_code == 204
    # The owner removes admins.
    assert (await http.delete(f"/chats/{chat['id']}/members/{admin2.id}", headers=owner.headers)).status_code == 204
    # Removing someone who is not a member is 404.
    assert_envelope(await http.delete(f"/chats/{chat['id']}/members/{carol.id}", headers=owner.headers), 404, "not_found")
    final = (await http.get(f"/chats/{chat['id']}", headers=owner.headers)).json()
    assert roles(final) == {owner.id: "owner", admin.id: "admin", bob.id: "member"}


async def test_members_owner_leaving_promotes_an_admin(http, pg):
    owner, bob, admin = await make_user(http), await make_user(http), await make_user(http)
    chat = await group_chat(http, owner, bob, admin)
    await pg.execute("UPDATE chat_members SET role = 'admin' WHERE chat_id = $1 AND user_id = $2", chat["id"], admin.id)
    assert (await http.delete(f"/chats/{chat['id']}/members/{owner.id}", headers=owner.headers)).status_code == 204
    assert roles((await http.get(f"/chats/{chat['id']}", headers=bob.headers)).json()) == {bob.id: "member", admin.id: "owner"}


async def test_members_nobody_leaves_a_direct_chat(http):
    alice, bob = await make_user(http), await make_user(http)
    chat = await direct_chat(http, alice, bob)
    assert_envelope(await http.delete(f"/chats/{chat['id']}/members/{alice.id}", headers=alice.headers), 403, "forbidden")
    assert_envelope(await http.delete(f"/chats/{chat['id']}/members/{bob.id}", headers=alice.headers), 403, "forbidden")
    assert (await http.get(f"/chats/{chat['id']}", headers=bob.headers)).status_code == 200


# --- events for other members -------------------------------------------------------------


async def test_chat_membership_changes_reach_every_member_inbox(http, pg):
    owner, bob, carol = await make_user(http), await make_user(http), await make_user(http)
    chat = await group_chat(http, owner, bob)
    assert (await http.post(f"/chats/{chat['id']}/members", json={"user_ids": [carol.id]}, headers=owner.headers)).status_code == 200
    assert (await http.delete(f"/chats/{chat['id']}/members/{bob.id}", headers=owner.headers)).status_code == 204
    sql = "SELECT user_id, count(*) AS n FROM inbox_events WHERE chat_id = $1 AND type = 'chat_updated' GROUP BY user_id"
    want = {owner.id: 3, bob.id: 3, carol.id: 2}  # create, add, remove (bob hears his own removal)
    rows = await poll_rows(pg, sql, chat["id"], until=lambda rows: {r["user_id"]: r["n"] for r in rows} == want)
    assert {r["user_id"]: r["n"] for r in rows} == want
    assert await pg.fetchval("SELECT count(*) FROM outbox") == 0  # the worker drained it


async def test_chat_former_member_replay_shows_nothing_of_the_chat(http, cluster, pg):
    """After leaving, every replayed event of the chat is empty: `message: null` and
    `chat: {id, removed: true}`, as REST answers 404, whatever changed after the removal."""
    owner, bob, carol = await make_user(http), await make_user(http), await make_user(http)
    chat = await group_chat(http, owner, bob)
    first = await send(http, owner, chat["id"], "while bob was in")
    sql = "SELECT 1 FROM inbox_events WHERE user_id = $1 AND message_id = $2"
    assert await poll_rows(pg, sql, bob.id, first["id"], until=bool)  # bob received it
    assert (await http.delete(f"/chats/{chat['id']}/members/{bob.id}", headers=owner.headers)).status_code == 204
    # After the removal: new members, an edit of a message bob once received, a new message.
    assert (await http.post(f"/chats/{chat['id']}/members", json={"user_ids": [carol.id]}, headers=owner.headers)).status_code == 200
    r = await http.patch(f"/messages/{first['id']}/edit", json={"content": "edited after bob left"}, headers=owner.headers)
    assert r.status_code == 200
    await send(http, owner, chat["id"], "after bob left")
    await poll_rows(pg, "SELECT 1 FROM outbox", until=lambda rows: not rows)  # all delivered
    last = await pg.fetchval("SELECT inbox_seq FROM users WHERE id = $1", bob.id)
    for since in (None, 0):  # a new device, then `sync {since_inbox_seq: 0}` on it
        device = await Device.connect(cluster.api.ws_url, bob, "fresh")
        try:
            if since is not None:
                await device.send("sync", {"since_inbox_seq": since})
            frames = []
            while not frames or frames[-1]["data"]["inbox_seq"] < last:  # his whole inbox
                frames.append(await device.next("chat_updated", "message", "message_edited", "receipt"))
        finally:
            await device.close()
        mine = [f for f in frames if f["type"] != "receipt"]  # bob was in this chat only
        assert len(mine) >= 3, frames  # added, the message, the removal
        for f in mine:
            if f["type"] == "chat_updated":
                assert f["data"]["chat"] == {"id": chat["id"], "removed": True}, f
            else:
                assert f["data"]["message"] is None, f
        for text in ("edited after bob left", "after bob left", carol.username):
            assert text not in str(frames)
    assert (await http.get(f"/chats/{chat['id']}", headers=bob.headers)).status_code == 404


async def test_a_member_added_to_a_group_with_hidden_history_sees_only_what_follows(http, http2, cluster):
    """history_visible false (contract v1.2): a member added later finds nothing from before
    joining in history, search, pins, the chat's last message, unread counts or replies'
    previews; members from before still see everything."""
    owner, early, late = await make_user(http), await make_user(http), await make_user(http)
    group = await group_chat(http, owner, early)
    old = await send(http, owner, group["id"], "before secretword")
    assert (await http.put(f"/chats/{group['id']}/pins/{old['id']}", headers=owner.headers)).status_code == 200
    r = await http.patch(f"/chats/{group['id']}", json={"history_visible": False}, headers=owner.headers)
    assert r.status_code == 200 and r.json()["history_visible"] is False
    chat = (await http.post(f"/chats/{group['id']}/members", json={"user_ids": [late.id]}, headers=owner.headers)).json()
    assert late.id in {m["user_id"] for m in chat["members"]}
    seen = (await http2.get(f"/chats/{group['id']}", headers=late.headers)).json()
    assert (seen["last_message"], seen["unread_count"]) == (None, 0)
    assert (await http.get("/messages", params={"chat_id": group["id"]}, headers=late.headers)).json()["items"] == []
    assert (await http.get(f"/chats/{group['id']}/pins", headers=late.headers)).json()["items"] == []
    assert (await http.get("/messages/search", params={"q": "secretword"}, headers=late.headers)).json()["items"] == []
    device = await Device.connect(cluster.apis[1].ws_url, late, "late-phone")
    reply = (await http.post("/messages", json={"chat_id": group["id"], "content": "after secretword", "reply_to_id": old["id"]},
                             headers=early.headers)).json()  # fmt: skip
    live = (await device.next("message"))["data"]["message"]
    assert (live["id"], live["reply_to"]["preview"]) == (reply["id"], "")  # the live event hides it too
    await device.close()
    items = (await http.get("/messages", params={"chat_id": group["id"]}, headers=late.headers)).json()["items"]
    assert [(m["id"], m["reply_to"]["preview"]) for m in items] == [(reply["id"], "")]
    found = (await http.get("/messages/search", params={"q": "secretword"}, headers=late.headers)).json()["items"]
    assert [f["message"]["id"] for f in found] == [reply["id"]]
    assert (await http2.get(f"/chats/{group['id']}", headers=late.headers)).json()["unread_count"] == 1
    # Those who were there see everything.
    items = (await http.get("/messages", params={"chat_id": group["id"]}, headers=early.headers)).json()["items"]
    assert [m["id"] for m in items] == [old["id"], reply["id"]] and items[1]["reply_to"]["preview"] == "before secretword"
    assert len((await http.get("/messages/search", params={"q": "secretword"}, headers=early.headers)).json()["items"]) == 2
