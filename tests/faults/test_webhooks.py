"""Webhook delivery under faults (contract: Bots and webhooks, the Guarantee): a receiver
process that verifies every signature, and while events flow the worker is SIGKILLed
mid-delivery, Redis is restarted empty, and the receiver is down for 60 s. Every event of the
bot's inbox must reach the receiver, in inbox_seq order within what it accepted, with no gap,
nothing skipped (duplicates allowed: at least once)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import Backing, make_stack
from tests.support.clients import User, direct_chat, make_user, send
from tests.support.processes import free_port
from tests.support.webhookreceiver import Receiver

DOWN_FOR = 60.0  # seconds the receiver is down (the contract: "down for hours"; the backoff is the same)


def delivered(receiver: Receiver) -> list[int]:
    return [e["data"]["inbox_seq"] for e in receiver.accepted_events() if e["type"] != "gap"]


@pytest.mark.timeout(600)  # 60 s down, then the backoff may be at 64 s ±25 %, on a loaded machine
async def test_webhook_survives_worker_kill_redis_wipe_and_a_receiver_down_60s(backing: Backing, stacks: list, tmp_path: Path) -> None:  # type: ignore[type-arg]
    stack = await make_stack(stacks, backing, RATE_LIMIT_MESSAGES="100000", WEBHOOK_BATCH="20")
    api = await asyncio.to_thread(stack.add_api)
    worker = await asyncio.to_thread(stack.add_worker)
    receiver = Receiver(port=free_port(), secret="", log=tmp_path / "received.jsonl")
    try:
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30.0) as http:
            owner = await make_user(http)
            r = await http.post("/bots", json={"username": "fault_bot", "webhook_url": receiver.url}, headers=owner.headers)
            assert r.status_code == 201, r.text
            receiver.secret = r.json()["webhook_secret"]
            bot_id = r.json()["bot"]["id"]
            receiver.start()
            receiver.set(delay=0.2)  # slow enough that the kill lands inside a POST

            bot = User(id=bot_id, username="fault_bot", email="", tokens={"access_token": r.json()["token"]})
            chat = await direct_chat(http, owner, bot)
            sent = 1  # chat_updated

            async def burst(n: int, tag: str) -> None:
                nonlocal sent
                for i in range(n):
                    await send(http, owner, chat["id"], f"{tag}{i}")
                sent += n

            await burst(100, "a")
            while len(delivered(receiver)) < 20:
                await asyncio.sleep(0.05)
            worker.kill()  # mid-delivery: a POST of the next batch is in flight
            await burst(50, "b")
            await asyncio.to_thread(stack.redis.restart_empty, 0.5)  # the queued jobs are gone
            worker = await asyncio.to_thread(stack.add_worker)
            await burst(50, "c")
            receiver.stop()
            await burst(50, "d")  # while the receiver is down
            await asyncio.sleep(DOWN_FOR)
            receiver.start()
            receiver.set(delay=0)
            deadline = time.monotonic() + 420  # the backoff may have reached 64 s ±25 %, twice over
            while set(delivered(receiver)) != set(range(1, sent + 1)):
                assert time.monotonic() < deadline, f"missing: {sorted(set(range(1, sent + 1)) - set(delivered(receiver)))[:20]}"
                await asyncio.sleep(0.5)
            seqs = delivered(receiver)
            first_seen = list(dict.fromkeys(seqs))
            assert first_seen == list(range(1, sent + 1))  # in order, no gap, nothing skipped
            assert receiver.problems() == []
            print(f"\nwebhook faults: {sent} events, {len(seqs)} accepted ({len(seqs) - sent} duplicates)")
    finally:
        receiver.stop()
