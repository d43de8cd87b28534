"""Running a chat: rename, admin roles, handing ownership over, pins, and each member's own
mute and archive settings; every change is a `chat_updated` to the members (settings: to the
member alone). Real API processes, PostgreSQL, Redis and the delivery worker."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.checks import assert_error, bad_fields, group_chat, poll_rows
from tests.support.clients import Device, User, make_user, pair, send


def roles(chat: dict[str, Any]) -> dict[int, str]:
    return {m["user_id"]: m["role"] for m in chat["members"]}


async def set_role(http: httpx.AsyncClient, caller: User, chat_id: int, user_id: int, role: str) -> httpx.Response:
    return await http.put(f"/chats/{chat_id}/members/{user_id}/role", json={"role": role}, headers=caller.headers)


async def chat_updates(pg: Any, user: User, at_least: int) -> int:
    rows = await poll_rows(
        pg, "SELECT inbox_seq FROM inbox_events WHERE user_id = $1 AND type = 'chat_updated'", user.id,
        until=lambda rows: len(rows) >= at_least,
    )  # fmt: skip
    return len(rows)


async def test_owner_and_admins_rename_a_group_and_members_hear_of_it(http, cluster, pg):
    owner, admin, member = await make_user(http), await make_user(http), await make_user(http)
    chat = await group_chat(http, owner, admin, member, title="old")
    assert (await set_role(http, owner, chat["id"], admin.id, "admin")).status_code == 200
    replayed = await chat_updates(pg, member, 2)  # the creation and the role change
    m = await Device.connect(cluster.apis[0].ws_url, member, "m")
    for _ in range(replayed):
        await m.next("chat_updated")
    r = await http.patch(f"/chats/{chat['id']}", json={"title": "Команда"}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["title"] == "Команда"
    live = await m.next("chat_updated")
    assert live["data"]["chat"]["title"] == "Команда" and live["data"]["chat"]["id"] == chat["id"]
    assert_error(await http.patch(f"/chats/{chat['id']}", json={"title": "mine"}, headers=member.headers), 403, "forbidden")
    for bad in [{"title": ""}, {"title": "x" * 129}, {}, {"title": "a\u0000b"}, {"title": "t", "type": "direct"}]:
        assert_error(await http.patch(f"/chats/{chat['id']}", json=bad, headers=owner.headers), 422, "validation_error")
    assert (await http.get(f"/chats/{chat['id']}", headers=owner.headers)).json()["title"] == "Команда"
    await m.close()


async def test_a_direct_chat_cannot_be_renamed_and_outsiders_get_404(http):
    alice, bob, chat = await pair(http)
    outsider = await make_user(http)
    assert_error(await http.patch(f"/chats/{chat['id']}", json={"title": "x"}, headers=alice.headers), 403, "forbidden")
    group = await group_chat(http, alice, bob)
    for path, method, body in [
        (f"/chats/{group['id']}", "PATCH", {"title": "x"}),
        (f"/chats/{group['id']}/members/{bob.id}/role", "PUT", {"role": "admin"}),
        (f"/chats/{group['id']}/owner", "POST", {"user_id": bob.id}),
        (f"/chats/{group['id']}/settings", "PUT", {"archived": True}),
        (f"/chats/{group['id']}/pins", "GET", None),
        (f"/chats/{group['id']}/pins/1", "PUT", None),
        (f"/chats/{group['id']}/pins/1", "DELETE", None),
        ("/chats/999999999/settings", "PUT", {"archived": True}),
    ]:
        r = await http.request(method, path, json=body, headers=outsider.headers)
        assert_error(r, 404, "not_found")


async def test_only_the_owner_grants_and_revokes_admin(http, pg):
    owner, admin, member = await make_user(http), await make_user(http), await make_user(http)
    chat = await group_chat(http, owner, admin, member)
    r = await set_role(http, owner, chat["id"], admin.id, "admin")
    assert r.status_code == 200 and roles(r.json())[admin.id] == "admin"
    assert_error(await set_role(http, admin, chat["id"], member.id, "admin"), 403, "forbidden")
    assert_error(await set_role(http, member, chat["id"], member.id, "admin"), 403, "forbidden")
    assert_error(await set_role(http, owner, chat["id"], owner.id, "member"), 403, "forbidden")
    assert_error(await set_role(http, owner, chat["id"], 999_999_999, "admin"), 404, "not_found")
    assert_error(await set_role(http, owner, chat["id"], admin.id, "owner"), 422, "validation_error")
    # An admin can now manage members; revoked, they cannot.
    r = await http.delete(f"/chats/{chat['id']}/members/{member.id}", headers=admin.headers)
    assert r.status_code == 204
    r = await set_role(http, owner, chat["id"], admin.id, "member")
    assert roles(r.json()) == {owner.id: "owner", admin.id: "member"}
    # Granting a role someone already has changes and announces nothing.
    before = await chat_updates(pg, owner, 4)
    assert (await set_role(http, owner, chat["id"], admin.id, "member")).status_code == 200
    assert await pg.fetchval(
        "SELECT count(*) FROM inbox_events WHERE user_id = $1 AND type = 'chat_updated'", owner.id
    ) == before


async def test_the_owner_hands_the_group_over_and_becomes_admin(http, pg):
    owner, heir, member = await make_user(http), await make_user(http), await make_user(http)
    chat = await group_chat(http, owner, heir, member)
    assert_error(await http.post(f"/chats/{chat['id']}/owner", json={"user_id": heir.id}, headers=member.headers), 403, "forbidden")
    outsider = await make_user(http)
    r = await http.post(f"/chats/{chat['id']}/owner", json={"user_id": outsider.id}, headers=owner.headers)
    assert_error(r, 404, "not_found")
    r = await http.post(f"/chats/{chat['id']}/owner", json={"user_id": heir.id}, headers=owner.headers)
    assert r.status_code == 200, r.text
    assert roles(r.json()) == {owner.id: "admin", heir.id: "owner", member.id: "member"}
    assert await pg.fetchval("SELECT count(*) FROM chat_members WHERE chat_id = $1 AND role = 'owner'", chat["id"]) == 1
    # The former owner is an admin now: no longer allowed to change roles.
    assert_error(await set_role(http, owner, chat["id"], member.id, "admin"), 403, "forbidden")
    assert (await set_role(http, heir, chat["id"], member.id, "admin")).status_code == 200


async def test_settings_are_the_callers_own_and_reach_only_their_devices(http, cluster, pg):
    alice, bob, chat = await pair(http)
    until = "2030-01-02T03:04:05.000Z"
    r = await http.put(f"/chats/{chat['id']}/settings", json={"muted_until": until}, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["muted_until"], r.json()["archived"]) == (until, False)
    r = await http.put(f"/chats/{chat['id']}/settings", json={"archived": True}, headers=alice.headers)
    assert (r.json()["muted_until"], r.json()["archived"]) == (until, True)  # unsent fields stay
    bob_view = (await http.get(f"/chats/{chat['id']}", headers=bob.headers)).json()
    assert (bob_view["muted_until"], bob_view["archived"]) == (None, False)
    listed = (await http.get("/chats", headers=alice.headers)).json()["items"][0]
    assert (listed["muted_until"], listed["archived"]) == (until, True)
    r = await http.put(f"/chats/{chat['id']}/settings", json={"muted_until": None}, headers=alice.headers)
    assert r.json()["muted_until"] is None and r.json()["archived"] is True
    for bad in [{"muted_until": "tomorrow"}, {"muted_until": "2030-01-02T03:04:05"}, {"archived": None},
                {"archived": "yes"}, {"color": "red"}]:  # fmt: skip
        assert_error(await http.put(f"/chats/{chat['id']}/settings", json=bad, headers=alice.headers), 422, "validation_error")
    # Three changes: three events in alice's inbox, none in bob's beyond the chat's creation.
    await chat_updates(pg, alice, 4)
    assert await pg.fetchval("SELECT count(*) FROM inbox_events WHERE user_id = $1 AND type = 'chat_updated'", bob.id) == 1
    a = await Device.connect(cluster.apis[0].ws_url, alice, "a")
    frames = [await a.next("chat_updated") for _ in range(4)]
    assert frames[-1]["data"]["chat"]["archived"] is True  # rendered in the current state
    await a.close()


async def test_pins_in_a_group_are_for_owner_and_admins_listed_latest_first(http, cluster):
    owner, member = await make_user(http), await make_user(http)
    chat = await group_chat(http, owner, member)
    messages = [await send(http, member, chat["id"], f"m{i}") for i in range(3)]
    assert_error(await http.put(f"/chats/{chat['id']}/pins/{messages[0]['id']}", headers=member.headers), 403, "forbidden")
    m = await Device.connect(cluster.apis[0].ws_url, member, "m")
    await m.messages_until(3)
    for message in (messages[0], messages[2], messages[1]):
        r = await http.put(f"/chats/{chat['id']}/pins/{message['id']}", headers=owner.headers)
        assert r.status_code == 200 and r.json()["pinned"] is True
    await m.next("chat_updated")
    r = await http.get(f"/chats/{chat['id']}/pins", headers=member.headers)
    assert [p["id"] for p in r.json()["items"]] == [messages[1]["id"], messages[2]["id"], messages[0]["id"]]
    first = await http.get(f"/chats/{chat['id']}/pins", params={"limit": 2}, headers=member.headers)
    rest = await http.get(
        f"/chats/{chat['id']}/pins", params={"limit": 2, "cursor": first.json()["next_cursor"]}, headers=member.headers
    )
    assert [p["id"] for p in first.json()["items"] + rest.json()["items"]] == [p["id"] for p in r.json()["items"]]
    assert rest.json()["next_cursor"] is None
    # Pinning again keeps the first pin's place; unpinning removes it; deleted messages leave.
    await http.put(f"/chats/{chat['id']}/pins/{messages[0]['id']}", headers=owner.headers)
    r = await http.delete(f"/chats/{chat['id']}/pins/{messages[2]['id']}", headers=owner.headers)
    assert r.status_code == 200 and r.json()["pinned"] is False
    await http.delete(f"/messages/{messages[1]['id']}", headers=member.headers)
    r = await http.get(f"/chats/{chat['id']}/pins", headers=member.headers)
    assert [p["id"] for p in r.json()["items"]] == [messages[0]["id"]]
    assert_error(await http.put(f"/chats/{chat['id']}/pins/{messages[1]['id']}", headers=owner.headers), 409, "conflict")
    assert_error(await http.get(f"/chats/{chat['id']}/pins", params={"cursor": "bogus"}, headers=member.headers), 422, "validation_error")
    await m.close()


async def test_any_member_pins_in_a_direct_chat_but_not_a_message_of_another_chat(http):
    alice, bob, chat = await pair(http)
    carol = await make_user(http)
    other = await group_chat(http, alice, carol)
    mine = await send(http, alice, chat["id"], "pin me")
    elsewhere = await send(http, alice, other["id"], "not here")
    r = await http.put(f"/chats/{chat['id']}/pins/{mine['id']}", headers=bob.headers)
    assert r.status_code == 200 and r.json()["pinned"] is True
    assert_error(await http.put(f"/chats/{chat['id']}/pins/{elsewhere['id']}", headers=bob.headers), 404, "not_found")
    assert_error(await http.put(f"/chats/{chat['id']}/pins/{2**63}", headers=bob.headers), 404, "not_found")
    page = (await http.get("/messages", params={"chat_id": chat["id"]}, headers=alice.headers)).json()
    assert page["items"][0]["pinned"] is True


async def test_chat_settings_message_ttl_history_and_slow_mode_follow_roles(http, cluster):
    """PATCH /chats/{id} (contract v1.2): `message_ttl` by any member of a direct chat or a
    group's owner or admins; `history_visible` and `slow_mode` by a group's owner or admins
    only; every member hears each change as chat_updated; bad values are 422 naming the field."""
    alice, bob, direct = await pair(http)
    carol = await make_user(http)
    group = await group_chat(http, alice, bob, carol)
    r = await http.patch(f"/chats/{direct['id']}", json={"message_ttl": 60}, headers=bob.headers)
    assert r.status_code == 200 and r.json()["message_ttl"] == 60, r.text
    watcher = await Device.connect(cluster.apis[1].ws_url, carol, "c")
    r = await http.patch(f"/chats/{group['id']}", json={"history_visible": False, "slow_mode": 10, "message_ttl": 3600}, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["history_visible"], r.json()["slow_mode"], r.json()["message_ttl"]) == (False, 10, 3600)
    seen = []
    while (False, 10, 3600) not in seen:  # the replay of being added comes first
        live = (await watcher.next("chat_updated"))["data"]["chat"]
        seen.append((live["history_visible"], live["slow_mode"], live["message_ttl"]))
    for body in ({"message_ttl": 5}, {"slow_mode": None}, {"history_visible": True}):
        assert_error(await http.patch(f"/chats/{group['id']}", json=body, headers=bob.headers), 403, "forbidden")
    for body in ({"history_visible": False}, {"slow_mode": 5}):
        assert_error(await http.patch(f"/chats/{direct['id']}", json=body, headers=alice.headers), 403, "forbidden")
    for bad, field in (({"message_ttl": 4}, "message_ttl"), ({"message_ttl": 365 * 86400 + 1}, "message_ttl"),
                       ({"slow_mode": 0}, "slow_mode"), ({"history_visible": "no"}, "history_visible")):  # fmt: skip
        assert bad_fields(await http.patch(f"/chats/{group['id']}", json=bad, headers=alice.headers)) == {field}
    r = await http.patch(f"/chats/{group['id']}", json={"message_ttl": None, "slow_mode": None}, headers=alice.headers)
    assert (r.json()["message_ttl"], r.json()["slow_mode"], r.json()["history_visible"]) == (None, None, False)
    await watcher.close()


async def test_a_title_cannot_be_removed(http):
    alice, bob = await make_user(http), await make_user(http)
    group = await group_chat(http, alice, bob)
    assert bad_fields(await http.patch(f"/chats/{group['id']}", json={"title": None}, headers=alice.headers)) == {"title"}
    assert (await http.get(f"/chats/{group['id']}", headers=alice.headers)).json()["title"] == "team"
