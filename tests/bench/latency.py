"""One online delivery, measured alone: 300 sequential WebSocket sends from one user to
another on one API instance and one worker, send → recipient's `message` frame.

    .venv/bin/python -m tests.bench.latency

Uses DATABASE_URL's server for a throwaway database and a private Redis (tests/support/stack).
"""

from __future__ import annotations

import asyncio
import os
import time

import httpx

from tests.support.clients import Device, direct_chat, make_user
from tests.support.stack import create_stack, drop_stack

SENDS = 300


async def main() -> None:
    admin_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    env = {"SECRET_KEY": "x" * 40, "BCRYPT_ROUNDS": "4", "LOG_LEVEL": "WARNING", "RATE_LIMIT_MESSAGES": "100000", "REGISTER_RATE_LIMIT": "1000000"}
    stack = await create_stack(admin_url, env)
    try:
        api = await asyncio.to_thread(stack.add_api)
        await asyncio.to_thread(stack.add_worker)
        async with httpx.AsyncClient(base_url=api.base_url, timeout=5) as client:
            alice, bob = await make_user(client), await make_user(client)
            chat = await direct_chat(client, alice, bob)
            sender, receiver = await Device.connect(api.ws_url, alice, "a"), await Device.connect(api.ws_url, bob, "b")
            await receiver.next("chat_updated")
            latencies = []
            for i in range(SENDS):
                started = time.perf_counter()
                await sender.send("message", {"chat_id": chat["id"], "content": "x", "client_msg_id": f"c{i}"})
                frame = await receiver.next("message")
                latencies.append((time.perf_counter() - started) * 1000)
                await receiver.ack(frame["data"]["inbox_seq"])
                await asyncio.sleep(0.02)
            latencies.sort()
            pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
            print(
                f"one online delivery, n={SENDS}: p50 {pick(0.5):.2f} ms, p90 {pick(0.9):.2f} ms, "
                f"p99 {pick(0.99):.2f} ms, max {latencies[-1]:.2f} ms"
            )
    finally:
        await drop_stack(stack)


if __name__ == "__main__":
    asyncio.run(main())
