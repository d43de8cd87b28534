"""The load generator's common part, that every scenario (tests/bench/scenarios/) extends:
bench users and chats over REST, devices connected in bounded waves, acks every ACK_INTERVAL,
and the counters (acks, deliveries, latencies, errors, closes) each run reports.

Targets: "messenger" (users registered over REST, Bearer tokens, direct chats) and "relay"
(tests/bench/relay.py: user ids in the query string, chats registered with a frame).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import orjson
import websockets

from tests.bench.devices import Device, Identity, Pair
from tests.bench.measure import log, now_ns, parse_stamp

PASSWORD = "bench-password-123"
# Acks are cumulative cursors (the contract: app/ws/protocol.py AckData): a device acks the
# highest inbox_seq up to which it holds every event, once ACK_EVERY events are unacked or at
# the next ACK_INTERVAL tick, whichever comes first. `--ack-every-event` (spec
# "ack_every_event"): one ack per inbox event instead, for comparison.
ACK_INTERVAL = 0.05
ACK_EVERY = 50
ACK_LOOP_MAX_S = 3600.0


class Generator:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.target: str = spec["target"]
        self.base_url: str = spec["base_url"]
        self.ws_url: str = spec["ws_url"]
        self.deflate: bool = bool(spec.get("deflate"))
        self.run_id = uuid.uuid4().hex[:6]
        self.user_ids = itertools.count(1)  # relay only
        self.dirty: set[Device] = set()
        self.closing = False
        self.ack_every_event = bool(spec.get("ack_every_event"))
        self.ack_every = int(spec.get("ack_every", ACK_EVERY))
        self.acks_sent = 0
        # results
        self.frames: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.closes: Counter[str] = Counter()
        self.reader_errors: Counter[str] = Counter()
        self.connect_errors: Counter[str] = Counter()
        self.setup_errors: Counter[str] = Counter()
        self.resyncs = 0
        # ref -> (send ns, what the send counts for: a Pair; a group run's Phase)
        self.pending: dict[str, tuple[int, Any]] = {}
        self.ack_lat: list[int] = []
        self.del_lat: list[int] = []
        self.sent = 0
        self.acked = 0
        self.last_ack_ns = 0
        self.delivered = 0
        self.failed = 0
        self.pair_of_recipient: dict[int, Pair] = {}
        self.ack_task: asyncio.Task[None] | None = None

    async def run(self) -> dict[str, Any]:
        """The scenario: its result, as the orchestrator reads it (each scenario module)."""
        raise NotImplementedError

    def ack_stats(self) -> dict[str, Any]:
        """How the devices acked: the mode and the `ack` frames they sent."""
        mode = "every event" if self.ack_every_event else f"cumulative (≤ 1 per {ACK_INTERVAL * 1000:g} ms or {self.ack_every} events)"
        return {"ack_mode": mode, "acks_sent": self.acks_sent}

    def error_counts(self) -> dict[str, dict[str, int]]:
        """The failure counters every scenario's result reports, in their report order."""
        return {
            "errors": dict(self.errors),
            "closes": dict(self.closes),
            "reader_errors": dict(self.reader_errors),
            "connect_errors": dict(self.connect_errors),
            "setup_errors": dict(self.setup_errors),
        }

    # --- callbacks from readers -----------------------------------------------------------
    def on_ack(self, frame: dict[str, Any]) -> None:
        entry = self.pending.pop(frame.get("ref") or "", None)
        if entry is None:
            return
        sent_ns, owner = entry
        self.last_ack_ns = now_ns()
        self.ack_lat.append(self.last_ack_ns - sent_ns)
        self.acked += 1
        self.count_ack(owner, frame["data"]["message"])

    def count_ack(self, owner: Any, message: dict[str, Any]) -> None:
        """Count an acknowledged message on what its send was for (here its Pair)."""
        owner.acked_ids.add(int(message["id"]))

    def on_error(self, frame: dict[str, Any]) -> None:
        self.errors[str(frame.get("data", {}).get("code"))] += 1
        if self.pending.pop(frame.get("ref") or "", None) is not None:
            self.failed += 1

    def on_delivered(self, device: Device, message: dict[str, Any]) -> None:
        self.delivered += 1
        stamp = parse_stamp(message.get("content", ""))
        if stamp is not None:
            self.del_lat.append(now_ns() - stamp)
        if device.want and device.done_ns is None and len(device.seen) >= device.want:
            device.done_ns = now_ns()

    async def ack_loop(self) -> None:
        for _ in range(int(ACK_LOOP_MAX_S / ACK_INTERVAL)):  # cancelled by shutdown() long before
            await asyncio.sleep(ACK_INTERVAL)
            dirty, self.dirty = self.dirty, set()
            for device in dirty:
                with contextlib.suppress(websockets.ConnectionClosed):
                    await device.ack()

    # --- setup ------------------------------------------------------------------------------
    async def make_users(self, http: httpx.AsyncClient | None, role: str, count: int) -> list[Identity]:
        if self.target == "relay":
            return [Identity(next(self.user_ids), f"{role}{i}", None) for i in range(count)]
        assert http is not None
        sem = asyncio.Semaphore(int(self.spec.get("http_concurrency", 16)))

        async def retrying(what: str, call: Any) -> Any:
            for attempt in range(5):
                try:
                    return await call(attempt)
                except (httpx.HTTPError, RuntimeError) as exc:
                    if attempt == 4:
                        raise
                    self.setup_errors[f"{what}: {str(exc)[:160]}"] += 1
                    await asyncio.sleep(0.5 * (attempt + 1))
            raise AssertionError("unreachable")

        async def one(i: int) -> Identity:
            username = f"b{self.run_id}_{role[0]}{i}"
            async with sem:
                async def register(attempt: int) -> int | None:
                    r = await http.post(
                        "/auth/register",
                        json={"username": username, "email": f"{username}@bench.example.com", "password": PASSWORD},
                    )
                    if r.status_code == 409 and attempt:  # an earlier attempt got through
                        return None
                    if r.status_code != 201:
                        raise RuntimeError(f"register {r.status_code}: {r.text[:200]}")
                    return int(r.json()["id"])

                async def login(attempt: int) -> str:
                    r = await http.post("/auth/login", json={"username": username, "password": PASSWORD})
                    if r.status_code != 200:
                        raise RuntimeError(f"login {r.status_code}: {r.text[:200]}")
                    return str(r.json()["access_token"])

                user_id = await retrying("register", register)
                token = await retrying("login", login)
                if user_id is None:
                    r = await http.get("/users/me", headers={"Authorization": f"Bearer {token}"})
                    user_id = int(r.json()["id"])
                return Identity(user_id, username, token)

        return list(await asyncio.gather(*(one(i) for i in range(count))))

    async def make_chats(self, http: httpx.AsyncClient | None, pairs: list[tuple[Identity, Identity]]) -> list[int]:
        if self.target == "relay":
            return [i + 1 for i in range(len(pairs))]
        assert http is not None
        sem = asyncio.Semaphore(int(self.spec.get("http_concurrency", 16)))

        async def one(a: Identity, b: Identity) -> int:
            async with sem:
                r = await http.post(
                    "/chats", json={"type": "direct", "member_ids": [b.user_id]},
                    headers={"Authorization": f"Bearer {a.token}"},
                )
                if r.status_code not in (200, 201):
                    raise RuntimeError(f"create chat {r.status_code}: {r.text[:200]}")
                return int(r.json()["id"])

        return list(await asyncio.gather(*(one(a, b) for a, b in pairs)))

    async def connect_all(self, devices: list[Device], concurrency: int, open_timeout: float = 30.0) -> int:
        sem = asyncio.Semaphore(concurrency) if concurrency > 0 else None

        async def one(device: Device) -> bool:
            for attempt in range(3):
                try:
                    if sem is None:
                        await device.connect(open_timeout)
                    else:
                        async with sem:
                            await device.connect(open_timeout)
                    return True
                except Exception as exc:  # noqa: BLE001
                    self.connect_errors[type(exc).__name__ + ": " + str(exc)[:80]] += 1
                    await asyncio.sleep(0.2 * (attempt + 1))
            return False

        return sum(await asyncio.gather(*(one(d) for d in devices)))

    async def register_relay_chats(self, pairs: list[Pair]) -> None:
        if self.target != "relay":
            return
        for pair in pairs:
            await pair.sender.send_frame(orjson.dumps({
                "type": "register_chat",
                "data": {"chat_id": pair.chat_id, "members": [pair.sender.ident.user_id, pair.recipient.ident.user_id]},
            }).decode())

    async def http_client(self) -> httpx.AsyncClient | None:
        if self.target == "relay":
            return None
        return httpx.AsyncClient(
            base_url=self.base_url, timeout=60.0, limits=httpx.Limits(max_connections=32, max_keepalive_connections=32)
        )

    def send_text(self, pair: Pair, k: int) -> tuple[str, str]:
        client_msg_id = f"{self.run_id}-{pair.index}-{k}"
        content = f"t={now_ns()};k={k}"
        frame = {"type": "message", "data": {"chat_id": pair.chat_id, "content": content, "client_msg_id": client_msg_id},
                 "ref": client_msg_id}
        return client_msg_id, orjson.dumps(frame).decode()

    async def send_open_loop(self, pairs: list[Pair], rate: float, duration: float) -> tuple[float, float, float]:
        """Open loop: message n is due at t0 + n/R on pair n % N, whatever the acks do. The
        send phase ends at T (+0.5 s grace): what is not sent by then is not sent.
        Returns (t0 on perf_counter, seconds spent sending, the largest lag behind schedule)."""
        total = int(rate * duration)
        t0 = time.perf_counter()
        deadline = t0 + duration + 0.5
        n = 0
        max_lag = 0.0
        while n < total:
            now = time.perf_counter()
            if now > deadline:
                break
            due = min(total, int((now - t0) * rate) + 1)
            while n < due:
                pair = pairs[n % len(pairs)]
                ref, text = self.send_text(pair, n)
                self.pending[ref] = (now_ns(), pair)
                try:
                    await pair.sender.send_frame(text)
                    self.sent += 1
                except websockets.ConnectionClosed:
                    self.pending.pop(ref, None)
                    self.errors["sender_closed"] += 1
                n += 1
            lag = time.perf_counter() - (t0 + n / rate)
            max_lag = max(max_lag, lag)
            await asyncio.sleep(max(0.0, t0 + n / rate - time.perf_counter()))
        return t0, time.perf_counter() - t0, max_lag

    async def verify_by_reconnect(self, pairs: list[Pair], wait: float = 10.0) -> int | None:
        """Messages acked but not received live: reconnect those recipients (same device id)
        and wait for the replay from their cursor. What is still missing then is really lost."""
        if not pairs:
            return 0
        if self.target == "relay":
            return None
        devices = [p.recipient for p in pairs]
        self.closing = True
        await asyncio.gather(*(d.close() for d in devices))
        self.closing = False
        await self.connect_all(devices, 32)
        deadline = time.perf_counter() + wait
        while time.perf_counter() < deadline and any(p.acked_ids - p.recipient.seen for p in pairs):
            await asyncio.sleep(0.1)
        missing = sum(len(p.acked_ids - p.recipient.seen) for p in pairs)
        log(f"{len(pairs)} recipients with missing messages reconnected: {missing} still missing after {wait:.0f}s")
        return missing

    async def shutdown(self, devices: list[Device]) -> None:
        self.closing = True
        if self.ack_task is not None:
            self.ack_task.cancel()
        sem = asyncio.Semaphore(256)

        async def one(d: Device) -> None:
            async with sem:
                await d.close()

        await asyncio.gather(*(one(d) for d in devices))
