"""The delivery path over real sockets, a real worker, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import functools
import signal
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import make_stack
from tests.support.clients import Device, User, connect_devices, direct_chat, make_user, pair, send, send_many
from tests.support.databases import asyncpg_url


def assert_gapless(seqs: list[int], start: int = 1) -> None:
    assert seqs == list(range(start, start + len(seqs))), seqs


async def pair_with_delivered(http: httpx.AsyncClient, ws_url: str, device_id: str, count: int) -> tuple[User, User, dict[str, Any], Device]:
    """(alice, bob, chat, device): bob's device `device_id`, connected at ws_url, has received
    `count` messages alice sent after it connected."""
    alice, bob, chat = await pair(http)
    device = await Device.connect(ws_url, bob, device_id)
    await send_many(http, alice, chat["id"], count)
    await device.messages_until(count)
    return alice, bob, chat, device


async def test_delivery_rest_to_ws_across_instances(http, cluster):
    alice, bob, chat = await pair(http)
    device = await Device.connect(cluster.apis[1].ws_url, bob, "phone")
    sent = await send_many(http, alice, chat["id"], 5)
    got = await device.messages_until(5)
    assert [m["id"] for m in got] == [m["id"] for m in sent]
    assert_gapless(device.inbox_seqs)  # chat_updated (1) then five messages
    await device.close()


async def test_delivery_ws_to_ws_across_instances(http, cluster):
    alice, bob, chat = await pair(http)
    sender, receiver = await connect_devices((cluster.apis[0].ws_url, alice, "a1"), (cluster.apis[1].ws_url, bob, "b1"))
    await sender.send("message", {"chat_id": chat["id"], "content": "over ws", "client_msg_id": "c1"}, ref="r1")
    ack = await sender.next("message_ack")
    assert ack["ref"] == "r1" and ack["data"]["message"]["seq"] == 1
    got = await receiver.next("message")
    assert got["data"]["message"]["id"] == ack["data"]["message"]["id"]
    assert got["data"]["message"]["content"] == "over ws"
    # The sender's other devices hear their own message too (multi-device sync).
    own = await sender.next("message")
    assert own["data"]["message"]["id"] == ack["data"]["message"]["id"]
    await sender.close()
    await receiver.close()


async def test_delivery_offline_device_replays_in_order_before_live(http, cluster):
    alice, bob, chat = await pair(http)
    first = await Device.connect(cluster.api.ws_url, bob, "tablet")  # registers the device
    await first.close()
    offline = await send_many(http, alice, chat["id"], 10, prefix="offline ")
    device = await Device.connect(cluster.apis[1].ws_url, bob, "tablet")
    live_task = asyncio.gather(*(send(http, alice, chat["id"], f"live {i}") for i in range(5)))
    got = await device.messages_until(15)
    await live_task
    assert [m["content"] for m in got[:10]] == [m["content"] for m in offline]
    assert_gapless(device.inbox_seqs)  # ascending, no gaps, no duplicates on one connection
    await device.close()


async def test_delivery_ack_stops_replay_for_that_device_only(http, cluster):
    alice, bob, chat, phone = await pair_with_delivered(http, cluster.api.ws_url, "phone", 4)
    last = phone.inbox_seqs[-1]
    await phone.ack(last)
    await asyncio.sleep(0.3)  # acks are written in batches every 50 ms
    await phone.close()

    again = await Device.connect(cluster.api.ws_url, bob, "phone")
    assert again.connected is not None and again.connected["cursor"] == again.connected["inbox_seq"] == last
    await send(http, alice, chat["id"], "after ack")
    frame = await again.next("message")
    assert frame["data"]["message"]["content"] == "after ack"
    assert again.inbox_seqs == [last + 1]  # nothing acked was replayed

    laptop = await Device.connect(cluster.api.ws_url, bob, "laptop")  # new device: from the start
    await laptop.messages_until(5)
    assert_gapless(laptop.inbox_seqs)
    await again.close()
    await laptop.close()


async def test_delivery_sync_replays_from_any_point(http, cluster):
    *_, device = await pair_with_delivered(http, cluster.api.ws_url, "d", 6)
    assert_gapless(device.inbox_seqs)
    before = len(device.inbox_seqs)
    await device.send("sync", {"since_inbox_seq": 3})
    while len(device.inbox_seqs) < before + 4:
        await device.next()
    assert device.inbox_seqs[before:] == [4, 5, 6, 7]
    await device.close()


async def test_delivery_edit_and_delete_reach_devices_in_current_state(http, cluster):
    alice, bob, chat = await pair(http)
    message = await send(http, alice, chat["id"], "secret text")
    r = await http.patch(f"/messages/{message['id']}/edit", json={"content": "edited"}, headers=alice.headers)
    assert r.status_code == 200
    r = await http.delete(f"/messages/{message['id']}/delete", headers=alice.headers)
    assert r.status_code == 200
    device = await Device.connect(cluster.api.ws_url, bob, "late")
    events = [await device.next("message", "message_edited", "message_deleted") for _ in range(3)]
    assert [e["type"] for e in events] == ["message", "message_edited", "message_deleted"]
    # Replays render the message as it is now: deleted content exists nowhere.
    assert all(e["data"]["message"]["content"] == "" and e["data"]["message"]["is_deleted"] for e in events)
    await device.close()


async def test_delivery_job_twice_creates_no_duplicate_inbox_events(backing, stacks):
    """Two runs of the delivery job at once (arq is at-least-once) create each event once."""
    from arq.connections import RedisSettings, create_pool

    from app.config import Settings
    from app.db import close_db, init_db
    from app.services.dispatch import partition_of
    from workers import jobs
    from workers.rounds import DrainRounds
    from workers.wakes import PartitionWakes

    stack = await make_stack(stacks, backing)
    api = stack.add_api()  # no worker: the outbox waits for our runs
    async with httpx.AsyncClient(base_url=api.base_url) as client:
        alice, bob = await make_user(client), await make_user(client)
        chat = await direct_chat(client, alice, bob)
        await asyncio.gather(*(send(client, alice, chat["id"], f"m{i}") for i in range(20)))
    await init_db(stack.database_url)
    pool = await create_pool(RedisSettings.from_dsn(stack.redis.url))
    try:
        wakes = PartitionWakes(pool)
        wakes.start()

        def worker_ctx() -> dict:
            drain = functools.partial(jobs.drain_and_publish, pool, partitions=8, push_delay=5.0)
            return {"redis": pool, "settings": Settings(delivery_partitions=8), "wakes": wakes, "rounds": DrainRounds(drain)}

        ctx, other_worker = worker_ctx(), worker_ctx()
        partition = partition_of(chat["id"], 8)
        # Two runs in one worker (they share its drain rounds) and one in another worker.
        runs = [jobs.deliver(ctx, partition), jobs.deliver(ctx, partition), jobs.deliver(other_worker, partition)]
        results = await asyncio.gather(*runs)
        assert sum(results) == 21  # chat_updated + 20 messages, drained exactly once in total
        assert await jobs.deliver(ctx, partition) == 0
        from app.db import fetch

        rows = await fetch("SELECT user_id, inbox_seq, type, message_id FROM inbox_events ORDER BY user_id, inbox_seq")
    finally:
        await wakes.stop()
        await pool.aclose()
        await close_db()
    for user in (alice, bob):
        mine = [r for r in rows if r["user_id"] == user.id]
        assert [r["inbox_seq"] for r in mine] == list(range(1, 22))
        message_ids = [r["message_id"] for r in mine if r["type"] == "message"]
        assert len(message_ids) == len(set(message_ids)) == 20


async def test_one_workers_partitions_drain_together_in_order(backing, stacks):
    """Delivery jobs of one worker that ask at once share drain rounds (workers/rounds.py): eight
    partitions' jobs take at most two transactions (the first round may start with one
    partition alone), and every chat's events still arrive once each, in the chat's order."""
    from arq.connections import RedisSettings, create_pool

    from app.config import Settings
    from app.db import close_db, fetch, init_db
    from app.services.dispatch import partition_of
    from workers import jobs
    from workers.rounds import DrainRounds
    from workers.wakes import PartitionWakes

    stack = await make_stack(stacks, backing, RATE_LIMIT_MESSAGES="1000")
    api = stack.add_api()  # no worker: only the jobs below drain
    async with httpx.AsyncClient(base_url=api.base_url) as client:
        alice = await make_user(client)
        others = [await make_user(client) for _ in range(8)]
        chats = [await direct_chat(client, alice, other) for other in others]
        for i in range(5):
            await asyncio.gather(*(send(client, alice, chat["id"], f"{chat['id']}:{i}") for chat in chats))
    partitions = sorted({partition_of(chat["id"], 8) for chat in chats})
    assert len(partitions) >= 4, "the chats should spread over the partitions"
    await init_db(stack.database_url)
    pool = await create_pool(RedisSettings.from_dsn(stack.redis.url))
    wakes = PartitionWakes(pool)
    wakes.start()
    transactions: list[list[int]] = []

    async def counted(wanted: list[int]):  # type: ignore[no-untyped-def]
        transactions.append(wanted)
        return await jobs.drain_and_publish(pool, wanted, partitions=8, push_delay=5.0)

    try:
        ctx = {"redis": pool, "settings": Settings(delivery_partitions=8), "wakes": wakes, "rounds": DrainRounds(counted)}
        delivered = await asyncio.gather(*(jobs.deliver(ctx, partition) for partition in partitions))
        rows = await fetch("SELECT user_id, inbox_seq, chat_id, message_id FROM inbox_events WHERE type = 'message' ORDER BY inbox_seq")
    finally:
        await wakes.stop()
        await pool.aclose()
        await close_db()
    assert sum(delivered) == 8 * 6  # per chat: chat_updated and five messages
    # The first two transactions carried every partition, each once; the rest are the jobs'
    # drains after lingering, which found nothing.
    first_two = [p for wanted in transactions[:2] for p in wanted]
    assert sorted(first_two) == partitions, f"the drains were {transactions}"
    mine = [r for r in rows if r["user_id"] == alice.id]
    for chat in chats:
        ids = [r["message_id"] for r in mine if r["chat_id"] == chat["id"]]
        assert len(ids) == len(set(ids)) == 5 and ids == sorted(ids)


async def test_the_sweep_skips_a_partition_another_drainer_holds(backing, stacks):
    """The retry sweep never queues on a partition's drain lock (sweeps start every 2 s; queued
    ones each held a database connection until none was left for delivery): a held partition
    is left to its holder, and the next sweep drains it once it is free."""
    from arq.connections import RedisSettings, create_pool

    from app.config import Settings
    from app.db import close_db, init_db
    from app.services.dispatch import partition_of
    from app.storage.outbox import DELIVERY_LOCK_CLASS
    from workers import jobs

    stack = await make_stack(stacks, backing)
    api = stack.add_api()  # no worker: only our sweeps drain
    async with httpx.AsyncClient(base_url=api.base_url) as client:
        alice, bob = await make_user(client), await make_user(client)
        chat = await direct_chat(client, alice, bob)
        await asyncio.gather(*(send(client, alice, chat["id"], f"m{i}") for i in range(5)))
    await asyncio.sleep(jobs.SWEEP_MIN_AGE + 0.2)  # old enough for the sweep to take
    holder = await asyncpg.connect(asyncpg_url(stack.database_url))
    await init_db(stack.database_url)
    pool = await create_pool(RedisSettings.from_dsn(stack.redis.url))
    ctx = {"redis": pool, "settings": Settings(delivery_partitions=8)}
    try:
        async with holder.transaction():
            await holder.execute("SELECT pg_advisory_xact_lock($1, $2)", DELIVERY_LOCK_CLASS, partition_of(chat["id"], 8))
            assert await asyncio.wait_for(jobs.sweep(ctx), 10) == 0
        assert await jobs.sweep(ctx) == 6  # chat_updated and the five messages
    finally:
        await holder.close()
        await pool.aclose()
        await close_db()


@pytest.mark.timeout(180)
async def test_delivery_worker_sigkill_mid_burst_loses_nothing(backing, stacks):
    stack = await make_stack(stacks, backing, RATE_LIMIT_MESSAGES="100000")
    api = stack.add_api()
    worker = stack.add_worker()
    async with httpx.AsyncClient(base_url=api.base_url, timeout=15) as client:
        alice, bob = await make_user(client), await make_user(client)
        chat = await direct_chat(client, alice, bob)
        device = await Device.connect(api.ws_url, bob, "d")

        async def burst(n: int, tag: str) -> list[dict]:
            return [await send(client, alice, chat["id"], f"{tag}{i}", uuid.uuid4().hex) for i in range(n)]

        sending = asyncio.create_task(burst(150, "a"))
        await asyncio.sleep(0.3)
        worker.signal(signal.SIGKILL)
        first = await sending
        await asyncio.to_thread(stack.add_worker)
        second = await burst(20, "b")
        acked = {m["id"] for m in first + second}
        got = await device.messages_until(len(acked), timeout=60)
        assert {m["id"] for m in got} == acked
        assert_gapless(device.inbox_seqs)
        await device.close()


@pytest.mark.timeout(180)
async def test_delivery_redis_restarted_empty_mid_stream_loses_nothing(backing, stacks):
    stack = await make_stack(stacks, backing, RATE_LIMIT_MESSAGES="100000")
    api = stack.add_api()
    stack.add_worker()
    async with httpx.AsyncClient(base_url=api.base_url, timeout=15) as client:
        alice, bob = await make_user(client), await make_user(client)
        chat = await direct_chat(client, alice, bob)
        device = await Device.connect(api.ws_url, bob, "d")
        acked: set[int] = set()
        for i in range(40):
            if i == 20:
                await asyncio.to_thread(stack.redis.restart_empty)
            for _ in range(50):  # while Redis is away the API may answer 503; retry the same id
                try:
                    r = await client.post(
                        "/messages",
                        json={"chat_id": chat["id"], "content": f"m{i}", "client_msg_id": f"k{i}"},
                        headers=alice.headers,
                    )
                except httpx.HTTPError:
                    r = None
                if r is not None and r.status_code in (200, 201):
                    acked.add(r.json()["id"])
                    break
                assert r is None or r.status_code == 503, r.text
                await asyncio.sleep(0.2)
        got = await device.messages_until(len(acked), timeout=60)
        assert {m["id"] for m in got} == acked and len(acked) == 40
        assert_gapless(device.inbox_seqs)
        await device.close()


async def test_delivery_cursor_older_than_retained_inbox_gets_resync(http, cluster, backing, pg):
    """Retention: the prune job drops old events; a device whose cursor is older is told to
    refetch over REST (`resync`), never handed a silent gap."""
    from app.config import Settings
    from app.db import close_db, init_db
    from workers import jobs

    alice, bob, chat, old = await pair_with_delivered(http, cluster.api.ws_url, "old", 3)
    await old.close()
    await pg.execute("UPDATE inbox_events SET created_at = now() - interval '40 days' WHERE user_id = $1", bob.id)
    await init_db(backing.database_url)
    try:
        pruned = await jobs.prune({"settings": Settings(inbox_retention_days=30)})
    finally:
        await close_db()
    assert pruned == 4  # chat_updated and three messages
    fresh = await Device.connect(cluster.api.ws_url, bob, "new")  # cursor 0, inbox starts at 5
    frame = await fresh.next("resync", "message")
    assert frame == {"type": "resync", "data": {"inbox_seq": 4}}
    await send(http, alice, chat["id"], "after the resync")
    live = await fresh.next("message")
    assert live["data"]["inbox_seq"] == 5 and live["data"]["message"]["content"] == "after the resync"
    await fresh.close()
