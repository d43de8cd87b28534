"""Floods that reach other users are bounded, over real sockets against
the live cluster (two API instances sharing one Redis and one PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import websockets

from tests.support.checks import assert_envelope, group_chat
from tests.support.clients import Device, User, direct_chat, make_user, send

SEND_LIMIT = 30  # RATE_LIMIT_MESSAGES default: the cluster runs with it
CHAT_LIMIT = 10  # CHAT_RATE_LIMIT default
WS_MAX = 20  # WS_MAX_PER_USER default
NEW_DEVICES = 20  # WS_NEW_DEVICES_PER_DAY default


def _retry_after(headers) -> int:  # type: ignore[no-untyped-def]
    value = int(headers["Retry-After"])
    assert value >= 1
    return value


# --- item 4: edits and deletes share the send limit -------------------------------------------


async def test_edits_and_deletes_count_toward_the_send_limit_on_rest_and_ws(http, http2, cluster, pg):
    alice, bob = await make_user(http), await make_user(http)
    chat = await direct_chat(http, alice, bob)
    first = await send(http, alice, chat["id"], "v0")
    second = await send(http, alice, chat["id"], "keep me")
    # 28 of the 30 hits are left; edits from both instances spend them.
    results = []
    for i in range(40):
        client = http if i % 2 else http2
        r = await client.patch(f"/messages/{first['id']}/edit", json={"content": f"v{i + 1}"}, headers=alice.headers)
        results.append(r)
    ok = [r for r in results if r.status_code == 200]
    refused = [r for r in results if r.status_code == 429]
    assert len(ok) == SEND_LIMIT - 2 and len(refused) == 40 - len(ok), [r.status_code for r in results]
    for r in refused:
        assert_envelope(r, 429, "rate_limited")
        _retry_after(r.headers)
    # Nothing stored for a refused edit: the content is the last accepted one.
    last_ok = ok[-1].json()["content"]
    assert await pg.fetchval("SELECT content FROM messages WHERE id = $1", first["id"]) == last_ok
    # A delete is refused the same way, on REST and over the socket, and changes nothing.
    r = await http.delete(f"/messages/{second['id']}/delete", headers=alice.headers)
    assert_envelope(r, 429, "rate_limited")
    _retry_after(r.headers)
    device = await Device.connect(cluster.api.ws_url, alice, "a")
    await device.send("edit_message", {"message_id": first["id"], "content": "ws edit"}, ref="e")
    error = await device.next("error")
    assert error["ref"] == "e" and error["data"]["code"] == "rate_limited"
    await device.send("delete_message", {"message_id": second["id"]}, ref="d")
    error = await device.next("error")
    assert error["ref"] == "d" and error["data"]["code"] == "rate_limited"
    row = await pg.fetchrow("SELECT content, is_deleted FROM messages WHERE id = $1", second["id"])
    assert row["content"] == "keep me" and row["is_deleted"] is False
    assert await pg.fetchval("SELECT content FROM messages WHERE id = $1", first["id"]) == last_ok
    # Only accepted edits became events for the members.
    edited = await pg.fetchval(
        """SELECT (SELECT count(*) FROM outbox WHERE type = 'message_edited')
                + (SELECT count(*) FROM inbox_events WHERE type = 'message_edited' AND user_id = $1)""",
        bob.id,
    )
    assert edited <= len(ok)
    await device.close()


# --- item 5: group creation and member additions per user --------------------------------------


async def test_group_creation_and_member_additions_are_limited_per_user_across_instances(http, http2, pg):
    alice, bob, victim = await make_user(http), await make_user(http), await make_user(http)
    statuses = []
    for i in range(CHAT_LIMIT - 1):
        client = http if i % 2 else http2
        r = await client.post(
            "/chats", json={"type": "group", "title": f"g{i}", "member_ids": [victim.id]}, headers=alice.headers
        )
        statuses.append(r.status_code)
    assert statuses == [201] * (CHAT_LIMIT - 1)
    group = (await http.post("/chats", json={"type": "group", "title": "last", "member_ids": []}, headers=alice.headers)).json()
    # The limit is spent: another group and a member addition are refused on both instances.
    r = await http2.post("/chats", json={"type": "group", "title": "over", "member_ids": [victim.id]}, headers=alice.headers)
    assert_envelope(r, 429, "rate_limited")
    assert 1 <= _retry_after(r.headers) <= 60
    r = await http.post(f"/chats/{group['id']}/members", json={"user_ids": [victim.id]}, headers=alice.headers)
    assert_envelope(r, 429, "rate_limited")
    _retry_after(r.headers)
    assert await pg.fetchval("SELECT count(*) FROM chat_members WHERE user_id = $1", victim.id) == CHAT_LIMIT - 1
    # Direct chats are not counted, and the limit is each user's own.
    assert (await http.post("/chats", json={"type": "direct", "member_ids": [bob.id]}, headers=alice.headers)).status_code == 201
    await group_chat(http, bob, victim, title="bob's own")


# --- item 6: read frames are coalesced and answered with read_ack -------------------------------


async def _chat_with_messages(http, pg, sender: User, reader: User, count: int) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """A direct chat holding `count` messages, written straight into PostgreSQL: the send
    limit would otherwise take minutes to fill it."""
    chat = await direct_chat(http, sender, reader)
    async with pg.transaction():
        await pg.execute("UPDATE chats SET last_seq = $2 WHERE id = $1", chat["id"], count)
        await pg.execute(
            """INSERT INTO messages (chat_id, seq, sender_id, content, created_at, is_deleted)
               SELECT $1, g, $2, 'm' || g, now(), FALSE FROM generate_series(1, $3::int) g""",
            chat["id"],
            sender.id,
            count,
        )
    return chat  # type: ignore[no-any-return]


async def test_ws_read_frames_are_coalesced_and_each_gets_a_read_ack(http, cluster, pg):
    alice, bob = await make_user(http), await make_user(http)
    frames = 1000
    chat = await _chat_with_messages(http, pg, alice, bob, frames)
    device = await Device.connect(cluster.api.ws_url, bob, "b")
    # 1000 frames, each reading one message further, written without waiting for answers.
    payload = [
        json.dumps({"type": "read", "data": {"chat_id": chat["id"], "up_to_seq": i + 1}, "ref": str(i)})
        for i in range(frames)
    ]
    started = time.monotonic()
    for text in payload:
        await device.ws.send(text)
    sent_in = time.monotonic() - started
    acks: dict[str, dict] = {}  # type: ignore[type-arg]
    while len(acks) < frames:
        frame = await device.next("read_ack", "error", timeout=20)
        assert frame["type"] == "read_ack", frame
        assert frame["ref"] not in acks
        acks[frame["ref"]] = frame["data"]
    for i in range(frames):
        data = acks[str(i)]
        assert set(data) == {"chat_id", "read_seq", "unread_count", "unread_mentions"}
        assert data["chat_id"] == chat["id"] and data["unread_mentions"] == 0
        assert data["read_seq"] >= i + 1  # applied together with later frames, never before its own
        assert data["unread_count"] == frames - data["read_seq"]
    assert acks[str(frames - 1)]["read_seq"] == frames
    # PostgreSQL saw a handful of writes, not one per frame: every applied read that moved
    # leaves one read mark (and one receipt event for alice).
    marks = await pg.fetchval(
        "SELECT count(*) FROM receipt_marks WHERE chat_id = $1 AND user_id = $2 AND status = 'read'", chat["id"], bob.id
    )
    distinct_results = len({data["read_seq"] for data in acks.values()})
    assert marks == distinct_results
    assert marks <= 100, f"{marks} writes for {frames} frames sent in {sent_in:.3f}s"
    # The REST read is unchanged, and a read of a chat the reader is not in still errors.
    r = await http.post("/messages/read", json={"chat_id": chat["id"], "up_to_seq": 5}, headers=bob.headers)
    assert r.status_code == 200 and r.json() == {"chat_id": chat["id"], "read_seq": frames, "unread_count": 0, "unread_mentions": 0}
    await device.send("read", {"chat_id": chat["id"] + 1000, "up_to_seq": 1}, ref="x")
    error = await device.next("error", "read_ack")
    assert error["type"] == "error" and error["ref"] == "x" and error["data"]["code"] == "not_found"
    await device.close()


async def test_ws_read_by_message_ids_answers_read_ack(http, cluster):
    alice, bob = await make_user(http), await make_user(http)
    chat = await direct_chat(http, alice, bob)
    sent = [await send(http, alice, chat["id"], f"m{i}") for i in range(3)]
    device = await Device.connect(cluster.api.ws_url, bob, "b")
    await device.send("read", {"chat_id": chat["id"], "message_ids": [sent[1]["id"]]}, ref="r1")
    ack = await device.next("read_ack")
    assert ack["ref"] == "r1"
    assert ack["data"] == {"chat_id": chat["id"], "read_seq": 2, "unread_count": 1, "unread_mentions": 0}
    await device.send("read", {"chat_id": chat["id"], "message_ids": [sent[0]["id"]]})  # no ref: none echoed
    ack = await device.next("read_ack")
    assert "ref" not in ack and ack["data"]["read_seq"] == 2
    await device.close()


# --- item 7: typing once a second per user per chat, across sockets and instances --------------


async def test_typing_reaches_a_chat_once_a_second_whatever_the_number_of_sockets(http, cluster):
    alice, bob = await make_user(http), await make_user(http)
    chat = await direct_chat(http, alice, bob)
    other = await group_chat(http, alice, bob, title="other")
    watcher = await Device.connect(cluster.apis[0].ws_url, bob, "b")
    sockets = [await Device.connect(cluster.apis[i % 2].ws_url, alice, f"a{i}") for i in range(6)]
    started = time.monotonic()
    for _ in range(3):
        for device in sockets:
            await device.send("typing", {"chat_id": chat["id"]})
    await sockets[0].send("typing", {"chat_id": other["id"]})  # another chat has its own second
    await asyncio.sleep(0.6)
    assert time.monotonic() - started < 1.0, "the burst took too long to prove anything"
    seen = [f for f in watcher.frames if f["type"] == "typing"]
    while True:
        try:
            frame = await watcher.next("typing", timeout=0.2)
        except TimeoutError:
            break
        seen.append(frame)
    assert sorted(f["data"]["chat_id"] for f in seen) == sorted([chat["id"], other["id"]]), seen
    # A second later typing goes through again.
    await asyncio.sleep(max(0.0, started + 1.1 - time.monotonic()))
    await sockets[3].send("typing", {"chat_id": chat["id"]})
    again = await watcher.next("typing", timeout=5)
    assert again["data"] == {"chat_id": chat["id"], "user_id": alice.id}
    for device in [*sockets, watcher]:
        await device.close()


# --- item 8: sockets and new devices per user ---------------------------------------------------


async def _connect(url: str, user: User, device_id: str) -> Device | websockets.InvalidStatus:
    try:
        return await Device.connect(url, user, device_id)
    except websockets.InvalidStatus as refused:
        return refused


def _assert_refused_429(refused: websockets.InvalidStatus) -> None:
    response = refused.response
    assert response.status_code == 429
    _retry_after(response.headers)
    assert json.loads(response.body)["error"]["code"] == "rate_limited"


async def test_ws_sockets_per_user_are_capped_across_instances_even_when_racing(http, cluster):
    alice = await make_user(http)
    extra = 5
    # Every handshake at once, spread over both instances: exactly WS_MAX_PER_USER win.
    results = await asyncio.gather(
        *(_connect(cluster.apis[i % 2].ws_url, alice, f"d{i % 3}") for i in range(WS_MAX + extra))
    )
    opened = [r for r in results if isinstance(r, Device)]
    refused = [r for r in results if isinstance(r, websockets.InvalidStatus)]
    assert len(opened) == WS_MAX and len(refused) == extra, (len(opened), [r.response.status_code for r in refused])
    for r in refused:
        _assert_refused_429(r)
    # Another user is not affected; closing one socket frees a slot.
    bob = await make_user(http)
    other = await Device.connect(cluster.api.ws_url, bob, "b")
    await opened.pop().close()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while True:
        result = await _connect(cluster.apis[1].ws_url, alice, "d0")
        if isinstance(result, Device):
            opened.append(result)
            break
        assert loop.time() < deadline, "the closed socket's slot never came back"
        await asyncio.sleep(0.1)
    for device in [*opened, other]:
        await device.close()


async def test_ws_socket_cap_ignores_lapsed_entries_of_dead_instances(http, cluster, redis):
    alice = await make_user(http)
    # What a SIGKILLed instance leaves behind: entries whose expiry passed, never removed.
    past = int(time.time() * 1000) - 1000
    await redis.zadd(f"mc:presence:{alice.id}", {f"dead{i}": past for i in range(WS_MAX)})
    device = await Device.connect(cluster.api.ws_url, alice, "a")
    # ...while entries still in their lifetime count.
    future = int(time.time() * 1000) + 60_000
    await redis.zadd(f"mc:presence:{alice.id}", {f"live{i}": future for i in range(WS_MAX - 1)})
    result = await _connect(cluster.apis[1].ws_url, alice, "a")
    assert isinstance(result, websockets.InvalidStatus)
    _assert_refused_429(result)
    await device.close()


async def test_ws_new_device_ids_per_user_are_limited_per_day(http, cluster, pg):
    alice = await make_user(http)
    for i in range(NEW_DEVICES):
        device = await Device.connect(cluster.apis[i % 2].ws_url, alice, f"dev{i}")
        await device.close()
    result = await _connect(cluster.api.ws_url, alice, "one-too-many")
    assert isinstance(result, websockets.InvalidStatus)
    _assert_refused_429(result)
    assert await pg.fetchval("SELECT count(*) FROM devices WHERE user_id = $1", alice.id) == NEW_DEVICES
    # Known devices reconnect as always, and other users are not affected.
    again = await Device.connect(cluster.apis[1].ws_url, alice, "dev0")
    await again.close()
    bob = await make_user(http)
    fresh = await Device.connect(cluster.api.ws_url, bob, "bob-new")
    await fresh.close()


@pytest.mark.parametrize("device_id", ["ab\x00cd", "tab\x07", "x" * 65])
async def test_ws_bad_device_id_is_a_422_handshake_refusal(http, cluster, device_id):
    alice = await make_user(http)
    from urllib.parse import quote

    url = f"{cluster.api.ws_url}?device_id={quote(device_id)}"
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(url, additional_headers=alice.headers)
    assert refused.value.response.status_code == 422
    body = json.loads(refused.value.response.body)
    assert body["error"]["code"] == "validation_error"
    assert body["error"]["details"][0]["field"] == "device_id"
