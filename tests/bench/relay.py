"""The baseline: a bare WebSocket relay with the same frame shapes as Messenger Core's /ws,
and nothing else (no database, no queue, no auth, no inbox, no retries).

    python -m tests.bench.relay --port P --redis redis://127.0.0.1:6379/7

- Handshake: `/ws?user_id=<int>&device_id=<str>`; replies `connected`.
- `register_chat` `{chat_id, members: [ids]}`: remembers who is in a chat (process memory).
- `message` `{chat_id, content, client_msg_id}`: builds a message body, PUBLISHes it to each
  other member's channel (a group's in one pipelined round trip), replies `message_ack {message}` (with the frame's `ref`).
- Every connection subscribes to its user's channel (one shared pub/sub connection per
  process, as Messenger Core does) and forwards payloads as `message {inbox_seq, message}`,
  inbox_seq counting per connection.
- `ping` every heartbeat; `pong`, `ack` and anything else are accepted and ignored.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import orjson
import redis.asyncio as aioredis
import uvloop
from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from quart import Quart, websocket

CHANNEL = "bench:relay:user:{}"
HEARTBEAT = 25.0
QUEUE_SIZE = 1000


class RelayConn:
    def __init__(self, user_id: int, device_id: str) -> None:
        self.user_id = user_id
        self.device_id = device_id
        self.queue: asyncio.Queue[bytes | str] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self.inbox_seq = 0
        self.closed = asyncio.Event()

    def push(self, text: str) -> None:
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.closed.set()


def create_app(redis_url: str) -> Quart:
    app = Quart(__name__)
    state: dict[str, Any] = {}
    chats: dict[int, list[int]] = {}
    conns: dict[int, set[RelayConn]] = defaultdict(set)
    message_ids = itertools.count(1)
    chat_seqs: dict[int, int] = defaultdict(int)

    async def reader() -> None:
        # listen(): one blocking read per message, no timeout to arm; the payload is already the
        # message's JSON, so the frame is built around it rather than parsed and dumped again.
        async for message in state["pubsub"].listen():
            if message["type"] != "message":
                continue
            channel = message["channel"]
            user_id = int((channel.decode() if isinstance(channel, bytes) else channel).rsplit(":", 1)[1])
            data = message["data"]
            body = data.decode() if isinstance(data, bytes) else data
            for conn in list(conns.get(user_id, ())):
                conn.inbox_seq += 1
                conn.push('{"type":"message","data":{"inbox_seq":%d,"message":%s}}' % (conn.inbox_seq, body))

    @app.before_serving
    async def start() -> None:
        state["redis"] = aioredis.Redis.from_url(redis_url)
        state["pubsub"] = state["redis"].pubsub(ignore_subscribe_messages=True)
        # Open the pub/sub connection before any WebSocket subscribes: redis-py's PubSub
        # creates its connection on the first command, and concurrent first subscribes would
        # each make one and keep only the last (the others' subscriptions are lost).
        await state["pubsub"].subscribe("bench:relay:hello")
        state["reader"] = asyncio.create_task(reader())

    @app.after_serving
    async def stop() -> None:
        state["reader"].cancel()
        await asyncio.gather(state["reader"], return_exceptions=True)
        await state["pubsub"].aclose()
        await state["redis"].aclose()

    @app.get("/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    async def handle(conn: RelayConn, raw: str | bytes) -> None:
        frame = orjson.loads(raw)
        kind = frame.get("type")
        data = frame.get("data") or {}
        if kind == "message":
            chat_id = int(data["chat_id"])
            chat_seqs[chat_id] += 1
            body = {
                "id": next(message_ids),
                "chat_id": chat_id,
                "seq": chat_seqs[chat_id],
                "sender_id": conn.user_id,
                "client_msg_id": data.get("client_msg_id"),
                "content": data["content"],
                "created_at": datetime.now(UTC).isoformat(),
                "edited_at": None,
                "is_deleted": False,
                "delivered_at": None,
                "read_at": None,
            }
            payload = orjson.dumps(body)
            redis: aioredis.Redis = state["redis"]
            others = [m for m in chats.get(chat_id, ()) if m != conn.user_id]
            if len(others) == 1:
                await redis.publish(CHANNEL.format(others[0]), payload)
            elif others:  # a group: one round trip for the whole fan-out
                pipe = redis.pipeline(transaction=False)
                for member in others:
                    pipe.publish(CHANNEL.format(member), payload)
                await pipe.execute()
            reply: dict[str, Any] = {"type": "message_ack", "data": {"message": body}}
            if "ref" in frame:
                reply["ref"] = frame["ref"]
            conn.push(orjson.dumps(reply).decode())
        elif kind == "register_chat":
            chats[int(data["chat_id"])] = [int(m) for m in data["members"]]
        # ack, pong, anything else: nothing to do

    @app.websocket("/ws")
    async def ws() -> None:
        user_id = int(websocket.args.get("user_id", "0"))
        device_id = websocket.args.get("device_id", "")
        await websocket.accept()
        conn = RelayConn(user_id, device_id)
        first = not conns.get(user_id)
        conns[user_id].add(conn)
        if first:
            await state["pubsub"].subscribe(CHANNEL.format(user_id))
        conn.push(
            orjson.dumps(
                {
                    "type": "connected",
                    "data": {"user_id": user_id, "session_id": "", "device_id": device_id, "inbox_seq": 0,
                             "heartbeat_interval": HEARTBEAT},
                }
            ).decode()
        )

        async def send_loop() -> None:
            while True:
                await websocket.send(await conn.queue.get())

        async def ping_loop() -> None:
            while True:
                await asyncio.sleep(HEARTBEAT)
                conn.push('{"type":"ping","data":{}}')

        async def receive_loop() -> None:
            while True:
                await handle(conn, await websocket.receive())

        tasks = [asyncio.create_task(send_loop()), asyncio.create_task(receive_loop()),
                 asyncio.create_task(ping_loop()), asyncio.create_task(conn.closed.wait())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            conns[user_id].discard(conn)
            if not conns[user_id]:
                del conns[user_id]
                with contextlib.suppress(Exception):
                    await state["pubsub"].unsubscribe(CHANNEL.format(user_id))

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.relay", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7")
    args = parser.parse_args(argv)

    config = HypercornConfig()
    config.bind = [f"{args.host}:{args.port}"]
    config.websocket_max_message_size = 64 * 1024
    config.accesslog = None
    config.errorlog = "-"
    config.graceful_timeout = 2
    uvloop.install()
    app = create_app(args.redis)

    async def run() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        import signal

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await serve(app, config, shutdown_trigger=stopping.wait)  # type: ignore[arg-type]

    asyncio.run(run())


if __name__ == "__main__":
    main()
