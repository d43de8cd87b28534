"""Push notifications (contract: Push notifications) against real push services:
a Web Push receiver that verifies the VAPID JWT and decrypts the RFC 8291 body with the
subscription's own private key, and a Matrix push gateway receiver (tests/support/
pushreceivers.py), both real HTTP servers; the API and worker are real processes
(PUSH_DELAY=1 in the test cluster)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from tests.conftest import make_stack
from tests.support.checks import assert_error
from tests.support.clients import PASSWORD, Device, User, direct_chat, make_user, pair, send
from tests.support.pushreceivers import BrowserSubscription, GatewayReceiver, WebPushReceiver

QUIET = 3.0  # seconds to wait to be sure nothing more comes: PUSH_DELAY 1 + poll 0.5 + slack


async def vapid_key(http: httpx.AsyncClient) -> str:
    user = await make_user(http)
    r = await http.get("/push/vapid-public-key", headers=user.headers)
    assert r.status_code == 200, r.text
    return str(r.json()["key"])


@pytest.fixture
async def webpush(http) -> AsyncIterator[WebPushReceiver]:
    async with WebPushReceiver(await vapid_key(http)).running() as receiver:
        yield receiver


@pytest.fixture
async def gateway() -> AsyncIterator[GatewayReceiver]:
    async with GatewayReceiver().running() as receiver:
        yield receiver


async def subscribe(http: httpx.AsyncClient, user: User, sub: BrowserSubscription, device_id: str) -> dict[str, Any]:
    body = {"device_id": device_id, "kind": "webpush", "endpoint": sub.endpoint, "keys": sub.keys}
    r = await http.post("/push/subscriptions", json=body, headers=user.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def subscribe_gateway(http: httpx.AsyncClient, user: User, gateway: GatewayReceiver, pushkey: str) -> dict[str, Any]:
    body = {"device_id": "ios", "kind": "http", "url": gateway.url, "app_id": "com.example.ios", "pushkey": pushkey}
    r = await http.post("/push/subscriptions", json=body, headers=user.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_vapid_key_is_an_uncompressed_p256_point(http):
    raw = base64.urlsafe_b64decode((key := await vapid_key(http)) + "=" * (-len(key) % 4))
    assert len(raw) == 65 and raw[0] == 4 and "=" not in key


async def test_subscriptions_are_listed_replaced_and_deleted_by_their_owner_only(http, webpush, gateway):
    alice, bob = await make_user(http), await make_user(http)
    sub = webpush.subscription()
    first = await subscribe(http, alice, sub, "laptop")
    assert first["kind"] == "webpush" and first["endpoint"] == sub.endpoint and first["device_id"] == "laptop"
    assert first["url"] is None and "keys" not in first  # the auth secret is never echoed
    # The same endpoint again (a new device id after a reinstall) replaces it: one row.
    again = await subscribe(http, alice, sub, "laptop-2")
    assert again["id"] == first["id"] and again["device_id"] == "laptop-2"
    pusher = await subscribe_gateway(http, alice, gateway, "apns-token-1")
    assert (pusher["kind"], pusher["url"], pusher["app_id"], pusher["pushkey"]) == ("http", gateway.url, "com.example.ios", "apns-token-1")
    r = await http.get("/push/subscriptions", headers=alice.headers)
    assert [s["id"] for s in r.json()] == [first["id"], pusher["id"]]
    assert (await http.get("/push/subscriptions", headers=bob.headers)).json() == []
    assert_error(await http.delete(f"/push/subscriptions/{first['id']}", headers=bob.headers), 404, "not_found")
    assert (await http.delete(f"/push/subscriptions/{first['id']}", headers=alice.headers)).status_code == 204
    assert_error(await http.delete(f"/push/subscriptions/{first['id']}", headers=alice.headers), 404, "not_found")
    assert [s["id"] for s in (await http.get("/push/subscriptions", headers=alice.headers)).json()] == [pusher["id"]]
    assert (await http.get("/push/subscriptions")).status_code == 401


@pytest.mark.parametrize(
    "change",
    [
        {"endpoint": "ftp://push.example.com/x"},
        {"endpoint": "https://push.example.com/" + "x" * 2100},
        {"endpoint": "https://user:pw@push.example.com/x"},
        {"endpoint": "not a url"},
        {"keys": {"p256dh": "AAAA", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}},
        {"keys": {"auth": "AAAAAAAAAAAAAAAAAAAAAA"}},
        {"device_id": ""},
        {"kind": "sms"},
    ],
)
async def test_bad_subscriptions_are_refused_with_422(http, webpush, change):
    user = await make_user(http)
    sub = webpush.subscription()
    body = {"device_id": "d", "kind": "webpush", "endpoint": sub.endpoint, "keys": sub.keys, **change}
    assert_error(await http.post("/push/subscriptions", json=body, headers=user.headers), 422, "validation_error")
    assert (await http.get("/push/subscriptions", headers=user.headers)).json() == []


async def test_offline_device_gets_one_push_per_chat_burst(http, webpush):
    alice, bob, chat = await pair(http)
    carol = await make_user(http)
    other = await direct_chat(http, carol, bob)
    sub = webpush.subscription()
    await subscribe(http, bob, sub, "phone")  # never connected: it has acked nothing
    sent = [await send(http, alice, chat["id"], f"burst {i}") for i in range(3)]
    (push,) = await webpush.wait_delivered(sub, 1)
    assert push.payload.pop("inbox_seq") in (4, 5)  # bob's inbox: 2 chat_updated, 3 messages
    assert push.payload == {
        "type": "message",
        "chat_id": chat["id"],
        "message_id": sent[-1]["id"],
        "count": 3,
        "badge": 3,
        "mention": False,
        "sender": {"id": alice.id, "name": alice.username},
        "chat_title": None,
        "body": "burst 2",
    }
    assert push.headers["topic"] == f"chat-{chat['id']}" and push.headers["urgency"] == "high"
    await asyncio.sleep(QUIET)
    assert len(sub.attempts) == 1  # the burst was one notification
    # Another chat is another notification; the badge counts every chat's unread.
    await send(http, carol, other["id"], "hi from carol")
    second = (await webpush.wait_delivered(sub, 2))[1]
    assert (second.payload["chat_id"], second.payload["badge"], second.payload["body"]) == (other["id"], 4, "hi from carol")


async def test_an_ipv6_push_endpoint_gets_its_push(http):
    """An endpoint on an IPv6 address (::1 here: the cluster allows private targets, as
    `messenger dev` does) is accepted, so it must be pushed to: the VAPID JWT's `aud` is its
    origin, `http://[::1]:port`. py-vapid's signer refused that audience and the job failed:
    the subscription got 201 and then no push at all."""
    try:
        receiver = WebPushReceiver(await vapid_key(http), host="::1")
        await receiver.start()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    try:
        alice, bob, chat = await pair(http)
        sub = receiver.subscription()
        await subscribe(http, bob, sub, "phone")
        sent = [await send(http, alice, chat["id"], f"over IPv6 {i}") for i in range(3)]
        (push,) = await receiver.wait_delivered(sub, 1)
        assert (push.payload["message_id"], push.payload["count"]) == (sent[-1]["id"], 3)
    finally:
        await receiver.stop()
    assert receiver.errors == []  # VAPID verified against http://[::1]:port, body decrypted


async def test_device_that_acks_in_time_gets_no_push(http, cluster, webpush):
    alice, bob, chat = await pair(http)
    phone, tablet = webpush.subscription(), webpush.subscription()
    await subscribe(http, bob, phone, "phone")
    await subscribe(http, bob, tablet, "tablet")
    device = await Device.connect(cluster.api.ws_url, bob, "phone")
    try:
        message = await send(http, alice, chat["id"], "are you there?")
        frame = await device.next("message")
        await device.ack(frame["data"]["inbox_seq"])
        # The tablet is offline: it gets its push, and by then the phone's would have come.
        (push,) = await webpush.wait_delivered(tablet, 1)
        assert push.payload["message_id"] == message["id"]
        await asyncio.sleep(1.0)
        assert phone.attempts == []
        assert (await http.get("/push/subscriptions", headers=alice.headers)).json() == []  # alice's own: none
    finally:
        await device.close()
    # The sender's own devices never get a push for her message.
    mine = webpush.subscription()
    await subscribe(http, alice, mine, "alice-phone")
    await send(http, alice, chat["id"], "me again")
    await webpush.wait_delivered(tablet, 2)
    assert mine.attempts == []


async def test_muted_chat_pushes_only_mentions(http, gateway):
    alice, bob, chat = await pair(http)
    await subscribe_gateway(http, bob, gateway, "fcm-token-bob")
    until = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    r = await http.put(f"/chats/{chat['id']}/settings", json={"muted_until": until}, headers=bob.headers)
    assert r.status_code == 200, r.text
    await send(http, alice, chat["id"], "nothing urgent")
    await asyncio.sleep(QUIET)
    assert gateway.attempts == []
    mention = await send(http, alice, chat["id"], f"@{bob.username} look at this")
    (push,) = await gateway.wait_delivered(1)
    notification = push.payload["notification"]
    assert notification["event_id"] == str(mention["id"]) and notification["room_id"] == str(chat["id"])
    assert notification["sender"] == str(alice.id) and notification["sender_display_name"] == alice.username
    assert notification["content"] == {"msgtype": "m.text", "body": f"@{bob.username} look at this"}
    assert notification["counts"] == {"unread": 2}  # muted or not, both are unread
    assert notification["devices"][0]["app_id"] == "com.example.ios"
    assert notification["devices"][0]["pushkey"] == "fcm-token-bob"
    await asyncio.sleep(QUIET)
    assert len(gateway.attempts) == 1


async def test_gone_subscriptions_are_deleted(http, webpush, gateway, pg):
    alice, bob, chat = await pair(http)
    sub = webpush.subscription(script=[410])
    await subscribe(http, bob, sub, "old-browser")
    gateway.reject.add("stale-token")
    await subscribe_gateway(http, bob, gateway, "stale-token")
    await send(http, alice, chat["id"], "anyone?")
    await webpush.wait_attempts(sub, 1)
    await gateway.wait_delivered(1)
    for _ in range(50):
        if not await pg.fetchval("SELECT count(*) FROM push_subscriptions WHERE user_id = $1", bob.id):
            break
        await asyncio.sleep(0.1)
    assert (await http.get("/push/subscriptions", headers=bob.headers)).json() == []
    await send(http, alice, chat["id"], "still there?")
    await asyncio.sleep(QUIET)
    assert len(sub.attempts) == 1 and len(gateway.attempts) == 1


async def test_a_503_is_retried_and_then_succeeds(http, cluster, webpush):
    alice, bob, chat = await pair(http)
    sub = webpush.subscription(script=[503])
    await subscribe(http, bob, sub, "phone")
    message = await send(http, alice, chat["id"], "try again")
    attempts = await webpush.wait_attempts(sub, 2)
    assert [a.status for a in attempts] == [503, 201]
    assert attempts[1].payload["message_id"] == message["id"]
    assert attempts[1].at - attempts[0].at >= 0.9  # backoff: 1 s before the first retry
    await asyncio.sleep(QUIET)
    assert len(sub.attempts) == 2  # a success is not sent again
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{cluster.workers[0].base_url}/metrics")).text
    retried = [line for line in metrics.splitlines() if line.startswith('messenger_pushes_total{kind="webpush",outcome="retry"}')]
    assert retried and float(retried[0].split()[-1]) >= 1


@pytest.mark.timeout(120)
async def test_push_pending_when_the_worker_is_killed_is_sent_by_the_next_worker_without_text(backing, stacks):
    stack = await make_stack(stacks, backing, PUSH_DELAY="2", PUSH_PREVIEW="false")
    api = await asyncio.to_thread(stack.add_api)
    worker = await asyncio.to_thread(stack.add_worker)
    async with (
        httpx.AsyncClient(base_url=api.base_url, timeout=15) as client,
        WebPushReceiver(await vapid_key(client)).running() as receiver,
    ):
        alice, bob, chat = await pair(client)
        sub = receiver.subscription()
        await subscribe(client, bob, sub, "phone")
        message = await send(client, alice, chat["id"], "secret plans")
        # Delivered (the message reached bob's inbox), so the push job is queued, deferred.
        queue = aioredis.Redis.from_url(stack.redis.url)
        try:
            for _ in range(100):
                if any(k.startswith(b"arq:job:push:") for k in await queue.keys("arq:job:push:*")):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("no push job was queued")
        finally:
            await queue.aclose()
        await asyncio.to_thread(worker.kill)  # SIGKILL, before the job's time comes
        await asyncio.sleep(3.0)
        assert sub.attempts == []
        await asyncio.to_thread(stack.add_worker)
        (push,) = await receiver.wait_delivered(sub, 1, timeout=20)
        # PUSH_PREVIEW=false: ids and counts, no sender name and no text.
        assert push.payload == {
            "type": "message", "chat_id": chat["id"], "message_id": message["id"], "inbox_seq": 2,
            "count": 1, "badge": 1, "mention": False,
        }  # fmt: skip
        await asyncio.sleep(QUIET)
        assert len(sub.attempts) == 1


async def test_users_without_subscriptions_cost_no_push_job(http, cluster, redis, webpush):
    alice, bob, chat = await pair(http)
    carol = await make_user(http)
    await subscribe(http, carol, webpush.subscription(), "phone")  # someone has one: the set exists
    device = await Device.connect(cluster.api.ws_url, bob, "laptop")
    try:
        await send(http, alice, chat["id"], "no push for this")
        await device.next("message")  # drained and published; pushes are scheduled right after
    finally:
        await device.close()
    await asyncio.sleep(0.5)
    assert await redis.keys("arq:job:push:*") == []
    assert not await redis.sismember("mc:push:users", bob.id)
    assert await redis.sismember("mc:push:users", carol.id)


async def test_a_subscription_stops_when_the_session_that_made_it_ends(http, webpush):
    alice, bob, chat = await pair(http)
    # A second login of bob's: the laptop's session. The first (bob.headers) is the phone's.
    r = await http.post("/auth/login", json={"username": bob.username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    laptop_token = r.json()
    laptop = User(id=bob.id, username=bob.username, email=bob.email, tokens=laptop_token)
    phone_sub, laptop_sub = webpush.subscription(), webpush.subscription()
    await subscribe(http, bob, phone_sub, "phone")
    await subscribe(http, laptop, laptop_sub, "laptop")
    # The display name is what a push shows as the sender.
    assert (await http.patch("/users/me", json={"display_name": "Алиса"}, headers=alice.headers)).status_code == 200
    r = await http.post("/auth/logout", json={"refresh_token": laptop_token["refresh_token"]}, headers=laptop.headers)
    assert r.status_code == 204
    await send(http, alice, chat["id"], "after the laptop logged out")
    (push,) = await webpush.wait_delivered(phone_sub, 1)
    assert push.payload["sender"]["name"] == "Алиса"
    await asyncio.sleep(QUIET)
    assert laptop_sub.attempts == []  # its session ended: nothing goes to that browser


async def test_the_subscribed_users_set_is_rebuilt_when_redis_lost_it(http, redis, webpush):
    alice, bob, chat = await pair(http)
    sub = webpush.subscription()
    await subscribe(http, bob, sub, "phone")
    # What a Redis restarted empty looks like to the drain's cheap check.
    await redis.delete("mc:push:users", "mc:push:users:loaded")
    sent = await send(http, alice, chat["id"], "after the restart")
    (push,) = await webpush.wait_delivered(sub, 1)
    assert push.payload["message_id"] == sent["id"]  # PostgreSQL answered for the lost set
    assert await redis.sismember("mc:push:users", bob.id) and await redis.exists("mc:push:users:loaded")
