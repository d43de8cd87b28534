"""Webhook receivers for the bench's `webhooks` scenario (issue 29), inside the load generator's
process: one aiohttp application listening on one loopback port per bot, so that N bots are N
different webhook URLs (each its own origin: the worker's connection pool holds a connection
per receiver, as it would for bots of different owners).

Each POST is checked as the contract tells receivers to (HMAC-SHA256 of "<t>.<raw body>" with
that bot's secret, `t` within 5 minutes, delivery and attempt headers) and answered at once:
200, or 400 for a POST that fails a check (counted; none is expected). Per bot it follows the
`inbox_seq` of every event (gaps, duplicates) and the message ids received; per message event
it keeps the arrival time on the generator's clock (send → receiver latency, the send stamp is
in the content) and on the wall clock (the message's `created_at`, the commit, → receiver).

This is deliberately leaner than tests/support/webhookreceiver.py (one process and one JSON
line per POST): the bench measures the server, and 100 receiver processes would eat the cores
the server needs.
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from tests.bench.measure import now_ns, parse_stamp

HOST = "127.0.0.1"  # the bench's servers run with WEBHOOK_ALLOWED_NETWORKS=127.0.0.0/8 (tests/bench/system.py)
TOLERANCE = 300  # seconds: a receiver rejects an older `t`


def signature_problem(secret: str, header: str, body: bytes, now: float) -> str | None:
    """Why X-Messenger-Signature is wrong, or None when it is right."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    if "t" not in parts or "v1" not in parts:
        return "no t or v1"
    try:
        if abs(now - int(parts["t"])) > TOLERANCE:
            return "t too old"
    except ValueError:
        return "t not a number"
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(expected, parts["v1"]) else "bad signature"


@dataclass(eq=False)
class Hook:
    """One bot's receiver: its URL, the bot's secret, and what arrived."""

    index: int
    port: int
    secret: str = ""
    bot_id: int = 0
    last_seq: int = 0  # highest inbox_seq received
    events: int = 0  # events accepted (every type, duplicates included)
    posts: int = 0
    dups: int = 0  # events whose inbox_seq was already received (a redelivery)
    gaps: int = 0  # jumps in inbox_seq
    missing: int = 0  # inbox_seqs skipped by those jumps
    gap_markers: int = 0  # `gap` events (inbox retention: none expected here)
    message_ids: set[int] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/hook/{self.index}"


class ReceiverFarm:
    """N receivers on N ports of one aiohttp runner (port 0: the kernel picks free ports)."""

    def __init__(self) -> None:
        self.hooks: list[Hook] = []
        self.problems: Counter[str] = Counter()
        self.send_lat: list[int] = []  # ns, send (generator clock) → arrival
        self.commit_lat: list[int] = []  # ns, the message's created_at (server wall clock) → arrival
        self.first_ns = 0  # first and last message event's arrival (generator clock)
        self.last_ns = 0
        self.message_events = 0  # first receipts of message events (the load's)
        self.batch_sizes: Counter[int] = Counter()
        self.retries = 0  # POSTs with X-Messenger-Attempt > 1
        self._runner: web.AppRunner | None = None

    async def start(self, count: int) -> list[Hook]:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post("/hook/{index}", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        for index in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((HOST, 0))
            site = web.SockSite(self._runner, sock, backlog=256)
            await site.start()
            self.hooks.append(Hook(index, int(sock.getsockname()[1])))
        return self.hooks

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        arrived_ns, arrived_wall = now_ns(), time.time()
        try:
            hook = self.hooks[int(request.match_info["index"])]
        except (ValueError, IndexError):
            self.problems["unknown path"] += 1
            return web.Response(status=404)
        problem = signature_problem(hook.secret, request.headers.get("X-Messenger-Signature", ""), body, arrived_wall)
        attempt = request.headers.get("X-Messenger-Attempt", "")
        if problem is None and (not request.headers.get("X-Messenger-Delivery") or not attempt.isdigit()):
            problem = "no delivery id or attempt"
        payload: Any = None
        if problem is None:
            payload = orjson.loads(body)
            if payload.get("bot_id") != hook.bot_id:
                problem = f"bot_id {payload.get('bot_id')} at bot {hook.bot_id}'s URL"
        if problem is not None:
            self.problems[problem] += 1
            return web.Response(status=400, text=problem)
        if attempt != "1":
            self.retries += 1  # every POST is answered 200 at once: a retry means the worker timed out
        hook.posts += 1
        self.batch_sizes[len(payload["events"])] += 1
        for event in payload["events"]:
            self._event(hook, event, arrived_ns, arrived_wall)
        return web.Response(text="ok")

    def _event(self, hook: Hook, event: dict[str, Any], arrived_ns: int, arrived_wall: float) -> None:
        hook.events += 1
        data = event.get("data") or {}
        if event.get("type") == "gap":
            hook.gap_markers += 1
            return
        seq = int(data["inbox_seq"])
        if seq <= hook.last_seq:
            hook.dups += 1
            return
        if seq > hook.last_seq + 1:
            hook.gaps += 1
            hook.missing += seq - hook.last_seq - 1
        hook.last_seq = seq
        message = data.get("message")
        if event.get("type") != "message" or not message:
            return
        message_id = int(message["id"])
        if message_id in hook.message_ids:
            hook.dups += 1
            return
        hook.message_ids.add(message_id)
        self.message_events += 1
        self.first_ns = self.first_ns or arrived_ns
        self.last_ns = arrived_ns
        stamp = parse_stamp(str(message.get("content", "")))
        if stamp is not None:
            self.send_lat.append(arrived_ns - stamp)
        created = message.get("created_at")
        if created:
            committed = datetime.fromisoformat(str(created).replace("Z", "+00:00")).timestamp()
            self.commit_lat.append(int((arrived_wall - committed) * 1e9))
