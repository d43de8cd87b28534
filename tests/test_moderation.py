"""Moderation (contract v1.2) over the real cluster: reports of messages to the server's
administrators (members only, once per reporter, rate limited, never leaking other reporters,
`admin_report` live to online administrators, resolved by dismissing, deleting the message or
deactivating its sender); a group's bans and mutes (owner or admin over a lower role only,
each a `chat_updated`); slow mode (members below admin, REST and WebSocket)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import make_stack
from tests.support.checks import assert_error, bad_fields, group_chat
from tests.support.clients import Device, User, make_user, pair, send

REPORT_FIELDS = {
    "id", "message_id", "chat_id", "reporter_id", "reason", "comment", "status", "action", "created_at",
    "resolved_at", "resolved_by",
}  # fmt: skip


def at(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def member_ids(chat: dict[str, Any]) -> set[int]:
    return {m["user_id"] for m in chat["members"]}


async def make_admin(pg: Any, http: httpx.AsyncClient) -> User:
    admin = await make_user(http)
    await pg.execute("UPDATE users SET is_admin = TRUE WHERE id = $1", admin.id)
    return admin


async def promote(http: httpx.AsyncClient, owner: User, chat_id: int, *admins: User) -> None:
    for admin in admins:
        r = await http.put(f"/chats/{chat_id}/members/{admin.id}/role", json={"role": "admin"}, headers=owner.headers)
        assert r.status_code == 200, r.text


async def ban(http: httpx.AsyncClient, caller: User, chat_id: int, user_id: int, **body: Any) -> httpx.Response:
    return await http.put(f"/chats/{chat_id}/bans/{user_id}", json=body, headers=caller.headers)


async def mute(http: httpx.AsyncClient, caller: User, chat_id: int, user_id: int, until: str) -> httpx.Response:
    return await http.put(f"/chats/{chat_id}/members/{user_id}/mute", json={"until": until}, headers=caller.headers)


async def add(http: httpx.AsyncClient, caller: User, chat_id: int, *users: User) -> httpx.Response:
    return await http.post(
        f"/chats/{chat_id}/members", json={"user_ids": [u.id for u in users]}, headers=caller.headers
    )


async def report(http: httpx.AsyncClient, caller: User, message_id: int, **body: Any) -> httpx.Response:
    return await http.post(f"/messages/{message_id}/report", json={"reason": "spam", **body}, headers=caller.headers)


# --- bans ---------------------------------------------------------------------------------------


async def test_only_a_higher_role_bans_and_nobody_bans_themselves(http):
    owner, admin, other_admin, member, victim = [await make_user(http) for _ in range(5)]
    chat = await group_chat(http, owner, admin, other_admin, member, victim)
    await promote(http, owner, chat["id"], admin, other_admin)
    refused = [
        (member, victim), (member, admin), (member, owner),  # a member bans nobody
        (admin, other_admin), (admin, owner),  # an admin bans neither an admin nor the owner
        (admin, admin), (owner, owner),  # nobody bans themselves
    ]  # fmt: skip
    for caller, target in refused:
        assert_error(await ban(http, caller, chat["id"], target.id), 403, "forbidden")
    assert member_ids((await http.get(f"/chats/{chat['id']}", headers=owner.headers)).json()) == {
        u.id for u in (owner, admin, other_admin, member, victim)
    }
    # The owner bans an admin; an admin bans a member.
    assert (await ban(http, owner, chat["id"], other_admin.id)).status_code == 200
    assert (await ban(http, admin, chat["id"], victim.id)).status_code == 200
    # Bans are for groups; outsiders see nothing; unknown users 404.
    alice, bob, direct = await pair(http)
    assert bad_fields(await ban(http, alice, direct["id"], bob.id)) == {"chat_id"}
    assert_error(await ban(http, alice, chat["id"], member.id), 404, "not_found")
    assert_error(await ban(http, owner, chat["id"], 987_654_321), 404, "not_found")
    assert bad_fields(await ban(http, owner, chat["id"], member.id, until="tomorrow")) == {"until"}


async def test_a_banned_member_is_removed_and_nobody_adds_them_back_until_unbanned(http, cluster, pg):
    owner, admin, member, victim = [await make_user(http) for _ in range(4)]
    chat = await group_chat(http, owner, admin, member, victim)
    await promote(http, owner, chat["id"], admin)
    victim_device = await Device.connect(cluster.apis[0].ws_url, victim, "v")
    member_device = await Device.connect(cluster.apis[1].ws_url, member, "m")
    r = await ban(http, admin, chat["id"], victim.id, reason="spam links")
    assert r.status_code == 200, r.text
    assert victim.id not in member_ids(r.json())
    # The victim's devices drop the chat; the members hear of the change.
    while (await victim_device.next("chat_updated"))["data"]["chat"] != {"id": chat["id"], "removed": True}:
        pass
    while victim.id in member_ids((await member_device.next("chat_updated"))["data"]["chat"]):
        pass
    assert_error(await http.get(f"/chats/{chat['id']}", headers=victim.headers), 404, "not_found")
    assert_error(await send_raw(http, victim, chat["id"]), 404, "not_found")
    # Nobody adds them back: not the owner, not an admin, not with others in the same call.
    for caller in (owner, admin):
        assert_error(await add(http, caller, chat["id"], victim), 403, "forbidden")
    newcomer = await make_user(http)
    assert_error(await add(http, owner, chat["id"], newcomer, victim), 403, "forbidden")
    # The list: owner and admins only.
    r = await http.get(f"/chats/{chat['id']}/bans", headers=owner.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "items": [{"user_id": victim.id, "until": None, "reason": "spam links", "by": admin.id}],
        "next_cursor": None,
    }
    assert_error(await http.get(f"/chats/{chat['id']}/bans", headers=member.headers), 403, "forbidden")
    assert_error(await http.get(f"/chats/{chat['id']}/bans", headers=victim.headers), 404, "not_found")
    # Unbanned (a member cannot; idempotent), they can be added again.
    assert_error(await http.delete(f"/chats/{chat['id']}/bans/{victim.id}", headers=member.headers), 403, "forbidden")
    for _ in range(2):
        assert (await http.delete(f"/chats/{chat['id']}/bans/{victim.id}", headers=owner.headers)).status_code == 204
    assert (await http.get(f"/chats/{chat['id']}/bans", headers=owner.headers)).json()["items"] == []
    r = await add(http, admin, chat["id"], victim)
    assert r.status_code == 200 and victim.id in member_ids(r.json())
    await victim_device.close()
    await member_device.close()


async def test_a_ban_lasts_until_its_time_and_one_already_past_lets_them_back(http):
    owner, victim, other = [await make_user(http) for _ in range(3)]
    chat = await group_chat(http, owner, victim)
    r = await ban(http, owner, chat["id"], victim.id, until=at(hours=1))
    assert r.status_code == 200
    items = (await http.get(f"/chats/{chat['id']}/bans", headers=owner.headers)).json()["items"]
    assert [i["user_id"] for i in items] == [victim.id] and items[0]["until"] is not None
    assert_error(await add(http, owner, chat["id"], victim), 403, "forbidden")
    # A ban of someone who is no longer (or never was) a member is kept too.
    assert (await ban(http, owner, chat["id"], other.id)).status_code == 200
    assert_error(await add(http, owner, chat["id"], other), 403, "forbidden")
    # Banning again with a time already past: they may come back at once.
    assert (await ban(http, owner, chat["id"], victim.id, until=at(seconds=-1))).status_code == 200
    r = await add(http, owner, chat["id"], victim)
    assert r.status_code == 200, r.text
    assert victim.id in member_ids(r.json())
    assert [
        i["user_id"] for i in (await http.get(f"/chats/{chat['id']}/bans", headers=owner.headers)).json()["items"]
    ] == [other.id]


# --- mutes --------------------------------------------------------------------------------------


async def send_raw(http: httpx.AsyncClient, user: User, chat_id: int, content: str = "hi") -> httpx.Response:
    return await http.post("/messages", json={"chat_id": chat_id, "content": content}, headers=user.headers)


def assert_muted(error: dict[str, Any], until: str) -> None:
    """The refusal names the mute's end (to the millisecond, as every time in the API)."""
    assert error["code"] == "forbidden", error
    shown = datetime.fromisoformat(error["details"]["until"])
    assert abs(shown - datetime.fromisoformat(until)) < timedelta(milliseconds=1), error


async def test_a_muted_member_reads_but_cannot_send_edit_or_react_over_rest_or_websocket(http, cluster):
    owner, admin, member = [await make_user(http) for _ in range(3)]
    chat = await group_chat(http, owner, admin, member)
    await promote(http, owner, chat["id"], admin)
    own = await send(http, member, chat["id"], "before the mute")
    others = await send(http, owner, chat["id"], "hello")
    # Who may mute whom: as for bans.
    for caller, target in [(member, admin), (admin, owner), (admin, admin), (owner, owner)]:
        assert_error(await mute(http, caller, chat["id"], target.id, at(hours=1)), 403, "forbidden")
    assert_error(await mute(http, owner, chat["id"], 987_654_321, at(hours=1)), 404, "not_found")
    until = at(hours=1)
    r = await mute(http, admin, chat["id"], member.id, until)
    assert r.status_code == 200, r.text
    shown = {m["user_id"]: m["send_blocked_until"] for m in r.json()["members"]}
    assert shown[owner.id] is None and shown[member.id] is not None
    attempts = [
        await send_raw(http, member, chat["id"]),
        await http.patch(f"/messages/{own['id']}", json={"content": "edited"}, headers=member.headers),
        await http.patch(f"/messages/{own['id']}/edit", json={"content": "edited"}, headers=member.headers),
        await http.put(f"/messages/{others['id']}/reactions/👍", headers=member.headers),
        await http.delete(f"/messages/{others['id']}/reactions/👍", headers=member.headers),
    ]
    for attempt in attempts:
        assert_muted(assert_error(attempt, 403, "forbidden"), until)
    device = await Device.connect(cluster.apis[1].ws_url, member, "m")
    await device.send("message", {"chat_id": chat["id"], "content": "ws", "client_msg_id": "w1"}, ref="s")
    frame = await device.next("error", "message_ack")
    assert frame["type"] == "error" and frame["ref"] == "s"
    assert_muted(frame["data"], until)
    await device.send("edit_message", {"message_id": own["id"], "content": "ws edit"}, ref="e")
    frame = await device.next("error", "message_ack")
    assert frame["type"] == "error" and frame["ref"] == "e"
    assert_muted(frame["data"], until)
    # Nothing was stored; they still read, and see who muted them until when.
    history = (await http.get("/messages", params={"chat_id": chat["id"]}, headers=member.headers)).json()["items"]
    assert [m["content"] for m in history] == ["before the mute", "hello"]
    own_view = (await http.get(f"/chats/{chat['id']}", headers=member.headers)).json()
    assert {m["user_id"]: m["send_blocked_until"] for m in own_view["members"]}[member.id] is not None
    # A time already past lifts it.
    r = await mute(http, admin, chat["id"], member.id, at(seconds=-1))
    assert r.status_code == 200
    assert all(m["send_blocked_until"] is None for m in r.json()["members"])
    assert (await send_raw(http, member, chat["id"], "free again")).status_code == 201
    await device.close()


async def test_mutes_are_for_groups(http):
    alice, bob, direct = await pair(http)
    assert bad_fields(await mute(http, alice, direct["id"], bob.id, at(hours=1))) == {"chat_id"}


# --- slow mode ----------------------------------------------------------------------------------


async def test_slow_mode_holds_members_below_admin_to_one_send_per_period(http, http2, cluster):
    owner, admin, member = [await make_user(http) for _ in range(3)]
    chat = await group_chat(http, owner, admin, member)
    await promote(http, owner, chat["id"], admin)
    r = await http.patch(f"/chats/{chat['id']}", json={"slow_mode": 30}, headers=owner.headers)
    assert r.status_code == 200 and r.json()["slow_mode"] == 30, r.text
    assert (await send_raw(http, member, chat["id"], "one")).status_code == 201
    for client in (http, http2):  # every instance together
        r = await send_raw(client, member, chat["id"], "two")
        assert_error(r, 429, "rate_limited")
        assert 1 <= int(r.headers["Retry-After"]) <= 30
    device = await Device.connect(cluster.apis[1].ws_url, member, "m")
    await device.send("message", {"chat_id": chat["id"], "content": "ws", "client_msg_id": "w1"}, ref="s")
    frame = await device.next("error", "message_ack")
    assert frame["type"] == "error" and frame["data"]["code"] == "rate_limited"
    # Owners and admins are exempt.
    for user in (owner, admin, owner, admin):
        assert (await send_raw(http, user, chat["id"])).status_code == 201
    history = (await http.get("/messages", params={"chat_id": chat["id"]}, headers=member.headers)).json()["items"]
    assert [m["content"] for m in history if m["sender_id"] == member.id] == ["one"]
    # Off again: the member sends freely.
    assert (
        await http.patch(f"/chats/{chat['id']}", json={"slow_mode": None}, headers=owner.headers)
    ).status_code == 200
    for n in range(2):
        assert (await send_raw(http, member, chat["id"], f"free {n}")).status_code == 201
    await device.close()


# --- reports ------------------------------------------------------------------------------------


async def test_members_report_a_message_once_and_learn_nothing_of_other_reports(http, pg):
    sender, alice, dave, outsider = [await make_user(http) for _ in range(4)]
    chat = await group_chat(http, sender, alice, dave)
    message = await send(http, sender, chat["id"], "buy now")
    r = await report(http, alice, message["id"], reason="spam", comment="ads")
    assert r.status_code == 201, r.text
    first = r.json()
    assert set(first) == REPORT_FIELDS
    assert first["reporter_id"] == alice.id and first["chat_id"] == chat["id"] and first["message_id"] == message["id"]
    assert (first["status"], first["action"], first["reason"], first["comment"]) == ("open", None, "spam", "ads")
    again = await report(http, alice, message["id"], reason="abuse")
    assert again.status_code == 200 and again.json() == first
    # A second reporter sees only their own report: no count, no other reporter.
    second = await report(http, dave, message["id"], reason="abuse")
    assert second.status_code == 201 and second.json()["id"] != first["id"]
    assert set(second.json()) == REPORT_FIELDS and second.json()["reporter_id"] == dave.id
    # Outsiders get the 404 of a message that does not exist.
    assert_error(await report(http, outsider, message["id"]), 404, "not_found")
    assert_error(await report(http, alice, 987_654_321), 404, "not_found")
    assert bad_fields(await report(http, alice, message["id"], reason="boring")) == {"reason"}
    assert bad_fields(await report(http, alice, message["id"], comment="x" * 1001)) == {"comment"}
    # Only administrators list reports.
    for user in (alice, sender, dave):
        assert_error(await http.get("/admin/reports", headers=user.headers), 403, "forbidden")
        assert_error(
            await http.post(f"/admin/reports/{first['id']}/resolve", json={"action": "dismiss"}, headers=user.headers),
            403, "forbidden",
        )  # fmt: skip
    admin = await make_admin(pg, http)
    page = (await http.get("/admin/reports", headers=admin.headers)).json()
    assert [i["id"] for i in page["items"]] == [second.json()["id"], first["id"]]  # newest first
    assert page["items"][1]["message"]["content"] == "buy now"
    # Dismissing closes it (and the other report of the same message) without acting.
    r = await http.post(
        f"/admin/reports/{second.json()['id']}/resolve", json={"action": "dismiss"}, headers=admin.headers
    )
    assert r.status_code == 200 and (r.json()["status"], r.json()["action"]) == ("resolved", "dismiss")
    assert (await http.get("/admin/reports", headers=admin.headers)).json()["items"] == []
    history = (await http.get("/messages", params={"chat_id": chat["id"]}, headers=alice.headers)).json()["items"]
    assert [m["content"] for m in history] == ["buy now"]
    # The reporter's repeat shows their report as it is now, still naming only them.
    mine = (await report(http, alice, message["id"])).json()
    assert mine["status"] == "resolved" and mine["reporter_id"] == alice.id


async def test_a_member_cannot_report_what_came_before_they_joined_a_chat_with_hidden_history(http, pg):
    sender, newcomer = await make_user(http), await make_user(http)
    chat = await group_chat(http, sender, newcomer)
    earlier = await send(http, sender, chat["id"], "before")
    # As joining a chat with history_visible false leaves it (migration 12).
    await pg.execute(
        "UPDATE chat_members SET visible_after_seq = $3 WHERE chat_id = $1 AND user_id = $2",
        chat["id"], newcomer.id, earlier["seq"],
    )  # fmt: skip
    later = await send(http, sender, chat["id"], "after")
    assert_error(await report(http, newcomer, earlier["id"]), 404, "not_found")
    assert (await report(http, newcomer, later["id"])).status_code == 201


async def test_a_new_report_reaches_online_administrators_live(http, cluster, pg):
    admin = await make_admin(pg, http)
    admin_device = await Device.connect(cluster.apis[1].ws_url, admin, "desk")
    sender, reporter = await make_user(http), await make_user(http)
    chat = await group_chat(http, sender, reporter)
    message = await send(http, sender, chat["id"], "rude")
    r = await report(http, reporter, message["id"], reason="abuse")
    assert r.status_code == 201
    frame = await admin_device.next("admin_report")
    assert frame["data"] == {"report": r.json()}
    await admin_device.close()


async def test_resolving_by_deleting_the_message_announces_it_and_closes_every_report_of_it(http, cluster, pg):
    admin = await make_admin(pg, http)
    sender, alice, bob = [await make_user(http) for _ in range(3)]
    chat = await group_chat(http, sender, alice, bob)
    message = await send(http, sender, chat["id"], "bad")
    first = (await report(http, alice, message["id"])).json()
    second = (await report(http, bob, message["id"], reason="illegal")).json()
    device = await Device.connect(cluster.apis[0].ws_url, alice, "a")
    r = await http.post(
        f"/admin/reports/{first['id']}/resolve",
        json={"action": "delete_message", "note": "removed"},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == REPORT_FIELDS
    assert (body["status"], body["action"], body["resolved_by"]) == ("resolved", "delete_message", admin.id)
    assert body["resolved_at"] is not None
    while (frame := await device.next("message_deleted"))["data"]["message"]["id"] != message["id"]:
        pass
    assert frame["data"]["message"]["is_deleted"] is True
    assert (await http.get("/admin/reports", headers=admin.headers)).json()["items"] == []
    resolved = (await http.get("/admin/reports", params={"status": "resolved"}, headers=admin.headers)).json()["items"]
    assert {i["id"] for i in resolved} == {first["id"], second["id"]}
    assert all(i["action"] == "delete_message" and i["message"]["is_deleted"] for i in resolved)
    assert (await http.get("/admin/reports", params={"status": "all"}, headers=admin.headers)).json()[
        "items"
    ] == resolved
    # Resolved once: a second decision is a conflict; unknown reports 404.
    for report_id, status, code in [(first["id"], 409, "conflict"), (987_654_321, 404, "not_found")]:
        assert_error(
            await http.post(f"/admin/reports/{report_id}/resolve", json={"action": "dismiss"}, headers=admin.headers),
            status, code,
        )  # fmt: skip
    assert bad_fields(
        await http.post(f"/admin/reports/{first['id']}/resolve", json={"action": "ban"}, headers=admin.headers)
    ) == {"action"}
    await device.close()


async def test_resolving_by_deactivating_the_sender_closes_their_sockets(http, cluster, pg):
    admin = await make_admin(pg, http)
    sender, reporter = await make_user(http), await make_user(http)
    chat = await group_chat(http, sender, reporter)
    message = await send(http, sender, chat["id"], "scam")
    created = (await report(http, reporter, message["id"], reason="other")).json()
    device = await Device.connect(cluster.apis[1].ws_url, sender, "phone")
    r = await http.post(
        f"/admin/reports/{created['id']}/resolve", json={"action": "deactivate_sender"}, headers=admin.headers
    )
    assert r.status_code == 200 and r.json()["action"] == "deactivate_sender"
    assert await device.closed_with() == 4401
    assert_error(await http.get("/users/me", headers=sender.headers), 401, "unauthorized")


async def test_reports_are_rate_limited_per_user(stacks, backing):
    stack = await make_stack(stacks, backing, REPORT_RATE_LIMIT="2")
    await asyncio.gather(asyncio.to_thread(stack.add_api), asyncio.to_thread(stack.add_worker))
    async with httpx.AsyncClient(base_url=stack.apis[0].base_url, timeout=15.0) as http:
        sender, reporter = await make_user(http), await make_user(http)
        chat = await group_chat(http, sender, reporter)
        messages = [await send(http, sender, chat["id"], f"m{n}") for n in range(3)]
        for message in messages[:2]:
            assert (await report(http, reporter, message["id"])).status_code == 201
        r = await report(http, reporter, messages[2]["id"])
        assert_error(r, 429, "rate_limited")
        assert 1 <= int(r.headers["Retry-After"]) <= 3600
        # A repeat of a report made is not a new one: it still answers with it.
        assert (await report(http, reporter, messages[0]["id"])).status_code == 200
