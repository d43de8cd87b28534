"""Every client frame and server event over real sockets (tests/test_ws_closes.py has the
gateway's refusals and close codes)."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import httpx
import pytest

from tests.conftest import make_stack
from tests.support.checks import group_chat
from tests.support.clients import Device, connect_devices, direct_chat, make_user, pair, send
from tests.support.databases import asyncpg_url


async def test_ws_message_frame_acks_after_commit_and_repeats_ack_the_first(http, cluster, pg):
    alice, _bob, chat = await pair(http)
    device = await Device.connect(cluster.api.ws_url, alice, "a")
    frame = {"chat_id": chat["id"], "content": "hi", "client_msg_id": "same"}
    await device.send("message", frame, ref="one")
    first = await device.next("message_ack")
    await device.send("message", frame, ref="two")
    second = await device.next("message_ack")
    assert first["ref"] == "one" and second["ref"] == "two"
    assert first["data"]["message"]["id"] == second["data"]["message"]["id"]
    stored = await pg.fetchval("SELECT count(*) FROM messages WHERE sender_id = $1", alice.id)
    assert stored == 1
    await device.close()


async def test_ws_pipelined_sends_are_stored_in_the_order_sent(backing, stacks):
    """A socket's `message` frames run side by side (their rate-limit checks and acks
    overlap), but each is stored in its turn: the chat's seq follows the frames' order, also
    past frames refused on the way (another chat, too long) and repeats."""
    stack = await make_stack(stacks, backing, RATE_LIMIT_MESSAGES="10000")
    api = stack.add_api()
    stack.add_worker()
    async with httpx.AsyncClient(base_url=api.base_url) as http:
        alice, _bob, chat = await pair(http)
        _carol, _dave, foreign = await pair(http)
    device = await Device.connect(api.ws_url, alice, "a")
    expected: list[str] = []
    refused: set[str] = set()
    for i in range(300):
        frame = {"chat_id": chat["id"], "content": f"m{i}", "client_msg_id": f"c-{i}"}
        if i % 50 == 7:
            frame["chat_id"] = foreign["id"]
            refused.add(f"r{i}")
        elif i % 50 == 23:
            frame["content"] = "x" * 5000
            refused.add(f"r{i}")
        elif i % 50 == 31:
            frame = {"chat_id": chat["id"], "content": "again", "client_msg_id": f"c-{i - 1}"}
        else:
            expected.append(f"m{i}")
        await device.send("message", frame, ref=f"r{i}")
    replies: dict[str, dict] = {}
    while len(replies) < 300:
        reply = await device.next("message_ack", "error", timeout=30)
        replies[reply["ref"]] = reply
    assert {ref for ref, reply in replies.items() if reply["type"] == "error"} == refused
    assert replies["r31"]["data"]["message"]["content"] == "m30"  # a repeat acks the first
    conn = await asyncpg.connect(asyncpg_url(stack.database_url))
    try:
        rows = await conn.fetch("SELECT seq, content FROM messages WHERE chat_id = $1 ORDER BY seq", chat["id"])
    finally:
        await conn.close()
    assert [row["content"] for row in rows] == expected
    assert [row["seq"] for row in rows] == list(range(1, len(expected) + 1))
    await device.close()


async def test_ws_edit_delete_and_events_reach_the_other_member(http, cluster):
    alice, bob, chat = await pair(http)
    sender, receiver = await connect_devices((cluster.apis[0].ws_url, alice, "a"), (cluster.apis[1].ws_url, bob, "b"))
    await sender.send("message", {"chat_id": chat["id"], "content": "v1", "client_msg_id": "m"}, ref="s")
    message_id = (await sender.next("message_ack"))["data"]["message"]["id"]
    await sender.send("edit_message", {"message_id": message_id, "content": "v2"}, ref="e")
    edited = await sender.next("message_ack")
    assert edited["ref"] == "e" and edited["data"]["message"]["content"] == "v2"
    assert edited["data"]["message"]["edited_at"] is not None
    await sender.send("delete_message", {"message_id": message_id}, ref="d")
    deleted = await sender.next("message_ack")
    assert deleted["data"]["message"]["is_deleted"] is True and deleted["data"]["message"]["content"] == ""
    kinds = [(await receiver.next("message", "message_edited", "message_deleted"))["type"] for _ in range(3)]
    assert kinds == ["message", "message_edited", "message_deleted"]
    # Bob may not edit Alice's message: same rule and error as REST.
    await receiver.send("edit_message", {"message_id": message_id, "content": "x"}, ref="nope")
    error = await receiver.next("error")
    assert error["ref"] == "nope" and error["data"]["code"] == "forbidden"
    await sender.close()
    await receiver.close()


async def test_ws_receipts_delivered_on_ack_and_read_on_mark(http, cluster):
    alice, bob, chat = await pair(http)
    alice_dev, bob_dev = await connect_devices((cluster.apis[0].ws_url, alice, "a"), (cluster.apis[1].ws_url, bob, "b"))
    message = await send(http, alice, chat["id"], "did you get it?")
    carried = await bob_dev.next("message")
    await bob_dev.ack(carried["data"]["inbox_seq"])
    delivered = await alice_dev.next("receipt")
    assert delivered["data"]["status"] == "delivered"
    assert delivered["data"]["user_id"] == bob.id and delivered["data"]["up_to_seq"] == message["seq"]
    await bob_dev.send("read", {"chat_id": chat["id"], "message_ids": [message["id"]]})
    read = await alice_dev.next("receipt")
    assert read["data"]["status"] == "read" and read["data"]["up_to_seq"] == message["seq"]
    r = await http.get(f"/messages/{message['id']}/receipts", headers=alice.headers)
    (receipt,) = r.json()
    assert receipt["user_id"] == bob.id and receipt["delivered_at"] and receipt["read_at"]
    history = (await http.get(f"/messages?chat_id={chat['id']}", headers=alice.headers)).json()["items"]
    assert history[0]["delivered_at"] and history[0]["read_at"]
    await alice_dev.close()
    await bob_dev.close()


async def test_ws_group_delivered_receipts_go_to_the_sender_and_stamp_when_all_have_it(http, cluster):
    """Acks of a group's members are applied in one batch per flush: each reader's receipt
    reaches the sender only, and delivered_at is set once every other member has it."""
    alice, bob, carol = await make_user(http), await make_user(http), await make_user(http)
    chat = await group_chat(http, alice, bob, carol)
    alice_dev, bob_dev, carol_dev = await connect_devices(
        (cluster.apis[0].ws_url, alice, "a"), (cluster.apis[1].ws_url, bob, "b"), (cluster.apis[0].ws_url, carol, "c")
    )
    message = await send(http, alice, chat["id"], "all here?")
    carried = await bob_dev.next("message")
    await bob_dev.ack(carried["data"]["inbox_seq"])
    first = await alice_dev.next("receipt")
    assert (first["data"]["user_id"], first["data"]["status"], first["data"]["up_to_seq"]) == (bob.id, "delivered", message["seq"])
    history = (await http.get(f"/messages?chat_id={chat['id']}", headers=alice.headers)).json()["items"]
    assert history[-1]["delivered_at"] is None  # carol does not have it yet
    carried = await carol_dev.next("message")
    await carol_dev.ack(carried["data"]["inbox_seq"])
    second = await alice_dev.next("receipt")
    assert (second["data"]["user_id"], second["data"]["status"]) == (carol.id, "delivered")
    history = (await http.get(f"/messages?chat_id={chat['id']}", headers=alice.headers)).json()["items"]
    assert history[-1]["delivered_at"] is not None
    receipts = {r["user_id"]: r for r in (await http.get(f"/messages/{message['id']}/receipts", headers=alice.headers)).json()}
    assert receipts[bob.id]["delivered_at"] and receipts[carol.id]["delivered_at"]
    with pytest.raises(TimeoutError):  # a reader's receipt never goes to the other readers
        await bob_dev.next("receipt", timeout=1.0)
    for device in (alice_dev, bob_dev, carol_dev):
        await device.close()


async def test_ws_large_groups_broadcast_no_presence_and_no_receipt_events(backing, stacks):
    """Above LARGE_GROUP_SIZE a connect or an ack would cost a frame to every member: neither
    is broadcast there, while delivered_at and the per-member receipts still move."""
    stack = await make_stack(stacks, backing, LARGE_GROUP_SIZE="3")
    api = stack.add_api()
    stack.add_worker()
    async with httpx.AsyncClient(base_url=api.base_url, timeout=15) as client:
        alice, bob, carol, dave = [await make_user(client) for _ in range(4)]
        small = await direct_chat(client, alice, bob)
        big = await group_chat(client, alice, bob, carol, dave)
        alice_dev = await Device.connect(api.ws_url, alice, "a")
        carol_dev = await Device.connect(api.ws_url, carol, "c")  # shares only the big group
        bob_dev = await Device.connect(api.ws_url, bob, "b")
        online = await alice_dev.next("presence")  # bob, through the direct chat
        assert online["data"]["user_id"] == bob.id
        message = await send(client, alice, big["id"], "to everyone")
        for device in (bob_dev, carol_dev):
            carried = await device.next("message")
            await device.ack(carried["data"]["inbox_seq"])
        await send(client, alice, small["id"], "to bob")
        carried = await bob_dev.next("message")
        await bob_dev.ack(carried["data"]["inbox_seq"])
        receipt = await alice_dev.next("receipt")  # the direct chat's, the only one
        assert receipt["data"]["chat_id"] == small["id"]
        with pytest.raises(TimeoutError):
            await carol_dev.next("presence", timeout=1.0)  # bob's connect was not broadcast to her
        assert all(f["data"].get("chat_id") != big["id"] for f in alice_dev.frames if f["type"] == "receipt")
        receipts = (await client.get(f"/messages/{message['id']}/receipts", headers=alice.headers)).json()
        assert {r["user_id"] for r in receipts if r["delivered_at"]} == {bob.id, carol.id}
        for device in (alice_dev, carol_dev, bob_dev):
            await device.close()


async def test_ws_typing_and_presence_reach_online_members_only_as_ephemeral(http, cluster):
    alice, bob, chat = await pair(http)
    bob_dev, alice_dev = await connect_devices((cluster.apis[1].ws_url, bob, "b"), (cluster.apis[0].ws_url, alice, "a"))
    online = await bob_dev.next("presence")
    assert online["data"] == {"user_id": alice.id, "online": True, "last_seen_at": None}
    profile = (await http.get(f"/users/{alice.id}", headers=bob.headers)).json()
    assert profile["online"] is True and "email" not in profile
    await alice_dev.send("typing", {"chat_id": chat["id"]})
    typing = await bob_dev.next("typing")
    assert typing["data"] == {"chat_id": chat["id"], "user_id": alice.id}
    assert "inbox_seq" not in typing["data"]  # never stored, never replayed
    await alice_dev.close()
    offline = await bob_dev.next("presence")
    assert offline["data"]["online"] is False and offline["data"]["last_seen_at"]
    profile = (await http.get(f"/users/{alice.id}", headers=bob.headers)).json()
    assert profile["online"] is False and profile["last_seen_at"]
    await bob_dev.close()
    again = await Device.connect(cluster.apis[1].ws_url, bob, "b")
    replayed = [again.frames[-1]["type"]] if again.frames else []
    await asyncio.sleep(0.5)
    while True:
        try:
            replayed.append((await again.recv(timeout=0.5))["type"])
        except TimeoutError:
            break
    assert "typing" not in replayed and "presence" not in replayed
    await again.close()


async def test_ws_outsider_frames_get_not_found_and_leak_nothing(http, cluster):
    alice, _bob, chat = await pair(http)
    eve = await make_user(http)
    secret = await send(http, alice, chat["id"], "for bob only")
    eve_dev = await Device.connect(cluster.api.ws_url, eve, "e")
    frames = [
        ("message", {"chat_id": chat["id"], "content": "hi", "client_msg_id": "x"}),
        ("edit_message", {"message_id": secret["id"], "content": "x"}),
        ("delete_message", {"message_id": secret["id"]}),
        ("read", {"chat_id": chat["id"], "up_to_seq": 1}),
        ("read", {"chat_id": chat["id"], "message_ids": [secret["id"]]}),
        ("typing", {"chat_id": chat["id"]}),
    ]
    for i, (kind, data) in enumerate(frames):
        await eve_dev.send(kind, data, ref=str(i))
        error = await eve_dev.next("error")
        assert error["ref"] == str(i) and error["data"]["code"] == "not_found", (kind, error)
    assert "for bob only" not in json.dumps(eve_dev.frames)
    await eve_dev.close()


async def test_ws_bad_frames_get_errors_and_keep_the_connection(http, cluster):
    alice = await make_user(http)
    device = await Device.connect(cluster.api.ws_url, alice, "a")
    await device.ws.send("{not json")
    assert (await device.next("error"))["data"]["code"] == "validation_error"
    await device.send("launch_rockets", {}, ref="u")
    error = await device.next("error")
    assert error["ref"] == "u" and error["data"]["code"] == "validation_error"
    await device.send("message", {"chat_id": "one"}, ref="b")
    error = await device.next("error")
    assert error["ref"] == "b" and error["data"]["code"] == "validation_error"
    await device.send("sync", {"since_inbox_seq": 0})  # still open and served
    await device.close()
