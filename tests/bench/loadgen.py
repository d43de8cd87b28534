"""The load generator, run as its own process so that its CPU is not the server's:

    python -m tests.bench.loadgen --spec spec.json

It prints JSON lines on stdout: `{"phase": ...}` as it goes (the orchestrator starts RSS
baselines and py-spy on "load"), then one `{"result": {...}}`. Progress goes to stderr.

Targets: "messenger" (users registered over REST, Bearer tokens, direct chats) and "relay"
(tests/bench/relay.py: user ids in the query string, chats registered with a frame).
Scenario kinds:
    rate       N sender/recipient pairs plus M idle connections; open-loop sends at a fixed
               total rate R for T seconds, then a drain; acks, deliveries, latencies.
    reconnect  K devices that were seen once, a backlog of B messages each sent while they
               are offline, then all reconnect at once: time until each has all B.

Every message's content carries its send time on this process's clock
(`t=<perf_counter_ns>;k=<n>`), so the delivery latency needs no clock sync.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import resource
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import websockets
from websockets.asyncio.client import ClientConnection

PASSWORD = "bench-password-123"
ACK_INTERVAL = 0.05  # acks at most every 50 ms per device, carrying the latest inbox_seq
ACK_LOOP_MAX_S = 3600.0
PONG = '{"type":"pong","data":{}}'


def log(*parts: Any) -> None:
    print("[loadgen]", *parts, file=sys.stderr, flush=True)


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def now_ns() -> int:
    return time.perf_counter_ns()


def percentiles(values_ns: list[int]) -> dict[str, float | None]:
    """p50/p90/p95/p99/max in milliseconds (nearest rank)."""
    if not values_ns:
        return {"n": 0, "p50": None, "p90": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values_ns)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] / 1e6

    return {"n": len(ordered), "p50": rank(0.50), "p90": rank(0.90), "p95": rank(0.95), "p99": rank(0.99), "max": ordered[-1] / 1e6}


def parse_stamp(content: str) -> int | None:
    if not content.startswith("t="):
        return None
    try:
        return int(content[2:].split(";", 1)[0])
    except ValueError:
        return None


# --------------------------------------------------------------------------- devices


@dataclass
class Identity:
    user_id: int
    username: str
    token: str | None  # None for the relay


@dataclass(eq=False)
class Device:
    gen: Generator
    ident: Identity
    device_id: str
    role: str  # sender | recipient | idle | member (a group member: receives, some also send)
    ws: ClientConnection | None = None
    last_seq: int = 0
    acked_seq: int = 0
    seen: set[int] = field(default_factory=set)  # message ids received as `message` events
    dups: int = 0
    gaps: int = 0
    out_of_order: int = 0
    want: int = 0  # reconnect scenario: how many distinct messages complete it
    done_ns: int | None = None
    close_code: int | None = None
    reader: asyncio.Task[None] | None = None

    async def connect(self, open_timeout: float = 30.0) -> None:
        gen = self.gen
        if gen.target == "relay":
            url = f"{gen.ws_url}?user_id={self.ident.user_id}&device_id={self.device_id}"
            headers = None
        else:
            url = f"{gen.ws_url}?device_id={self.device_id}"
            headers = {"Authorization": f"Bearer {self.ident.token}"}
        self.ws = await websockets.connect(
            url,
            additional_headers=headers,
            max_size=2**22,
            ping_interval=None,
            open_timeout=open_timeout,
            close_timeout=2,
            compression="deflate" if gen.deflate else None,
        )
        first = orjson.loads(await asyncio.wait_for(self.ws.recv(), open_timeout))
        if first.get("type") != "connected":
            raise RuntimeError(f"first frame was not `connected`: {first}")
        cursor = int(first["data"].get("inbox_seq") or 0)
        self.last_seq = self.acked_seq = max(self.last_seq, cursor)
        self.close_code = None
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        gen = self.gen
        ws = self.ws
        assert ws is not None
        try:
            async for raw in ws:
                frame = orjson.loads(raw)
                kind = frame.get("type")
                if kind == "ping":
                    await ws.send(PONG)
                    continue
                data = frame.get("data")
                gen.frames[kind] += 1
                if kind == "message_ack":
                    gen.on_ack(frame)
                    continue
                if kind == "error":
                    gen.on_error(frame)
                    continue
                if kind == "resync":
                    gen.resyncs += 1
                    self.last_seq = int(data["inbox_seq"])
                    gen.dirty.add(self)
                    continue
                if isinstance(data, dict) and "inbox_seq" in data:
                    seq = int(data["inbox_seq"])
                    if seq > self.last_seq + 1 and self.last_seq:
                        self.gaps += 1
                    if seq <= self.last_seq:
                        self.out_of_order += 1
                    else:
                        self.last_seq = seq
                    gen.dirty.add(self)
                if kind == "message":
                    message = data["message"]
                    message_id = int(message["id"])
                    if message_id in self.seen:
                        self.dups += 1
                        continue
                    self.seen.add(message_id)
                    if self.role in ("recipient", "member"):
                        gen.on_delivered(self, message)
        except websockets.ConnectionClosed as closed:
            self.close_code = closed.rcvd.code if closed.rcvd else 1006
        except Exception as exc:  # noqa: BLE001 - recorded, never fatal for the run
            gen.reader_errors[repr(exc)[:120]] += 1
            self.close_code = -1
        finally:
            if not gen.closing:
                gen.closes[str(self.close_code)] += 1

    async def send_frame(self, text: str) -> None:
        assert self.ws is not None
        await self.ws.send(text)

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):  # noqa: BLE001
                await asyncio.wait_for(self.ws.close(), 3)
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)
            self.reader = None


@dataclass(eq=False)
class Pair:
    index: int
    chat_id: int
    sender: Device
    recipient: Device
    acked_ids: set[int] = field(default_factory=set)
    judged_ids: set[int] = field(default_factory=set)  # acked before the delivery drain began


# --------------------------------------------------------------------------- generator


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
        # results
        self.frames: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.closes: Counter[str] = Counter()
        self.reader_errors: Counter[str] = Counter()
        self.connect_errors: Counter[str] = Counter()
        self.setup_errors: Counter[str] = Counter()
        self.resyncs = 0
        self.pending: dict[str, tuple[int, Pair]] = {}  # ref -> (send ns, pair)
        self.ack_lat: list[int] = []
        self.del_lat: list[int] = []
        self.sent = 0
        self.acked = 0
        self.last_ack_ns = 0
        self.delivered = 0
        self.failed = 0
        self.pair_of_recipient: dict[int, Pair] = {}
        self.ack_task: asyncio.Task[None] | None = None

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
        sent_ns, pair = entry
        self.last_ack_ns = now_ns()
        self.ack_lat.append(self.last_ack_ns - sent_ns)
        self.acked += 1
        pair.acked_ids.add(int(frame["data"]["message"]["id"]))

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
                if device.ws is None or device.last_seq <= device.acked_seq:
                    continue
                device.acked_seq = device.last_seq
                with contextlib.suppress(websockets.ConnectionClosed):
                    await device.send_frame('{"type":"ack","data":{"inbox_seq":%d}}' % device.last_seq)

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

    # --- scenarios --------------------------------------------------------------------------
    async def run_rate(self) -> dict[str, Any]:
        spec = self.spec
        n_pairs, n_idle = int(spec["pairs"]), int(spec.get("idle", 0))
        rate, duration, drain = float(spec["rate"]), float(spec["duration"]), float(spec.get("drain", 5.0))
        started = time.perf_counter()
        emit({"phase": "setup"})
        http = await self.http_client()
        try:
            senders = await self.make_users(http, "sender", n_pairs)
            recipients = await self.make_users(http, "recipient", n_pairs)
            idles = await self.make_users(http, "idle", n_idle)
            chat_ids = await self.make_chats(http, list(zip(senders, recipients)))
        finally:
            if http is not None:
                await http.aclose()
        setup_users = time.perf_counter() - started
        log(f"users ready in {setup_users:.1f}s")
        pairs = [
            Pair(i, chat_ids[i], Device(self, senders[i], f"bench-s-{i}", "sender"),
                 Device(self, recipients[i], f"bench-r-{i}", "recipient"))
            for i in range(n_pairs)
        ]
        for pair in pairs:
            self.pair_of_recipient[pair.recipient.ident.user_id] = pair
        idle_devices = [Device(self, ident, f"bench-i-{i}", "idle") for i, ident in enumerate(idles)]
        self.ack_task = asyncio.create_task(self.ack_loop())
        t_conn = time.perf_counter()
        ok = await self.connect_all([p.recipient for p in pairs] + [p.sender for p in pairs], 32)
        if ok < 2 * n_pairs:
            raise RuntimeError(f"only {ok} of {2 * n_pairs} pair devices connected: {dict(self.connect_errors)}")
        idle_ok = await self.connect_all(idle_devices, int(spec.get("connect_concurrency", 64)))
        connect_time = time.perf_counter() - t_conn
        log(f"{ok} pair devices and {idle_ok}/{n_idle} idle connected in {connect_time:.1f}s")
        await self.register_relay_chats(pairs)
        await asyncio.sleep(float(spec.get("settle", 2.0)))  # initial replays (chat_updated) settle
        frames_before_load = sum(self.frames.values())

        # Open loop: message n is due at t0 + n/R on pair n % N, whatever the acks do.
        # The send phase ends at T (+0.5 s grace): what is not sent by then is not sent.
        emit({"phase": "load", "duration": duration})
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
                pair = pairs[n % n_pairs]
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
        send_time = time.perf_counter() - t0
        t0_ns = int(t0 * 1e9)  # perf_counter and perf_counter_ns share a clock
        emit({"phase": "drain"})

        # Drain: wait for outstanding acks (bounded), then ~`drain` s for deliveries.
        ack_deadline = time.perf_counter() + max(drain, 30.0)
        while self.pending and time.perf_counter() < ack_deadline:
            await asyncio.sleep(0.05)
        # Only what was acked by now counts for `lost`: each of those had the whole drain period
        # to arrive. Acks still trickling in during the drain (an overloaded server) are counted
        # as acked, not judged.
        for pair in pairs:
            pair.judged_ids = set(pair.acked_ids)
        deliver_deadline = time.perf_counter() + drain
        while time.perf_counter() < deliver_deadline:
            if all(p.judged_ids <= p.recipient.seen for p in pairs) and not self.pending:
                break
            await asyncio.sleep(0.05)
        # A further 0.5 s to catch duplicates that trail behind.
        await asyncio.sleep(0.5)
        lost_ids = sum(len(p.judged_ids - p.recipient.seen) for p in pairs)
        delivered_ids = sum(len(p.recipient.seen) for p in pairs)
        acked_in_drain = sum(len(p.acked_ids) - len(p.judged_ids) for p in pairs)
        lost_sample = [
            {"pair": p.index, "chat_id": p.chat_id, "recipient_user": p.recipient.ident.user_id,
             "recipient_last_seq": p.recipient.last_seq, "missing_ids": sorted(p.judged_ids - p.recipient.seen)[:10]}
            for p in pairs if p.judged_ids - p.recipient.seen
        ][:10]
        recipients_d = [p.recipient for p in pairs]
        dups, gaps, out_of_order = (sum(d.dups for d in recipients_d), sum(d.gaps for d in recipients_d),
                                    sum(d.out_of_order for d in recipients_d))
        for pair in pairs:
            pair.acked_ids = pair.judged_ids
        lost_after_reconnect = await self.verify_by_reconnect([p for p in pairs if p.acked_ids - p.recipient.seen])
        await self.shutdown([p.sender for p in pairs] + [p.recipient for p in pairs] + idle_devices)
        return {
            "kind": "rate",
            "pairs": n_pairs,
            "idle": n_idle,
            "idle_connected": idle_ok,
            "rate": rate,
            "duration": duration,
            "setup_users_s": round(setup_users, 2),
            "connect_s": round(connect_time, 2),
            "sent": self.sent,
            "acked": self.acked,
            "failed": self.failed,
            "unacked": len(self.pending),
            "delivered": delivered_ids,
            "lost": lost_ids,
            "acked_during_drain": acked_in_drain,
            "lost_sample": lost_sample,
            # acked, not delivered live, and still missing after that device reconnected (replay)
            "lost_after_reconnect": lost_after_reconnect,
            "dup": dups,
            "gaps": gaps,
            "out_of_order": out_of_order,
            "achieved_rate": round(self.sent / send_time, 1) if send_time else 0.0,
            # acks per second from the first send to the last ack: the throughput the server sustained
            "acked_rate": round(self.acked / max(send_time, (self.last_ack_ns - t0_ns) / 1e9), 1) if send_time else 0.0,
            "last_ack_after_s": round((self.last_ack_ns - t0_ns) / 1e9, 2) if self.last_ack_ns else None,
            "send_time_s": round(send_time, 2),
            "max_send_lag_ms": round(max_lag * 1000, 1),
            "ack_ms": percentiles(self.ack_lat),
            "delivery_ms": percentiles(self.del_lat),
            **self.error_counts(),
            "resyncs": self.resyncs,
            "frames": dict(self.frames),
            "frames_before_load": frames_before_load,
            "wall_s": round(time.perf_counter() - started, 1),
        }

    async def run_reconnect(self) -> dict[str, Any]:
        if self.target == "relay":
            raise RuntimeError("the relay keeps no backlog: the reconnect scenario does not apply")
        spec = self.spec
        k, backlog = int(spec["reconnect"]), int(spec.get("backlog", 20))
        n_senders = max(1, min(k, int(spec.get("senders", 100))))
        started = time.perf_counter()
        emit({"phase": "setup"})
        http = await self.http_client()
        assert http is not None
        try:
            senders = await self.make_users(http, "sender", n_senders)
            recipients = await self.make_users(http, "recipient", k)
            chat_ids = await self.make_chats(http, [(senders[i % n_senders], recipients[i]) for i in range(k)])
        finally:
            await http.aclose()
        setup_users = time.perf_counter() - started
        log(f"{n_senders} senders, {k} recipients, {k} chats in {setup_users:.1f}s")
        sender_devices = [Device(self, s, f"bench-s-{i}", "sender") for i, s in enumerate(senders)]
        pairs = [
            Pair(i, chat_ids[i], sender_devices[i % n_senders], Device(self, recipients[i], f"bench-r-{i}", "recipient"))
            for i in range(k)
        ]
        rec_devices = [p.recipient for p in pairs]
        self.ack_task = asyncio.create_task(self.ack_loop())

        # 1. Every device is seen once: it gets its chat_updated, acks it, and goes offline.
        t1 = time.perf_counter()
        ok = await self.connect_all(rec_devices, 64)
        wait_until = time.perf_counter() + 30
        while time.perf_counter() < wait_until and any(d.last_seq < 1 for d in rec_devices if d.ws):
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)  # the last acks go out (ACK_INTERVAL) before we close
        self.closing = True
        await asyncio.gather(*(d.close() for d in rec_devices))
        self.closing = False
        first_seen = time.perf_counter() - t1
        log(f"{ok}/{k} devices seen once in {first_seen:.1f}s; now offline")
        cursors = [d.acked_seq for d in rec_devices]

        # 2. The backlog: `backlog` messages to each offline device, over the senders' sockets,
        #    a bounded window in flight per sender; wait for every ack and for the worker to
        #    have turned them into inbox events (the senders get their own messages back).
        await self.connect_all(sender_devices, 32)
        t2 = time.perf_counter()
        emit({"phase": "backlog"})
        window = int(spec.get("window", 32))
        by_sender: dict[int, list[Pair]] = {}
        for pair in pairs:
            by_sender.setdefault(id(pair.sender), []).append(pair)

        async def fill(sender_pairs: list[Pair]) -> None:
            sem = asyncio.Semaphore(window)
            for j in range(backlog):
                for pair in sender_pairs:
                    await sem.acquire()
                    ref, text = self.send_text(pair, j)
                    self.pending[ref] = (now_ns(), pair)
                    self._waiters[ref] = sem
                    await pair.sender.send_frame(text)
                    self.sent += 1

        self._waiters: dict[str, asyncio.Semaphore] = {}
        original_on_ack, original_on_error = self.on_ack, self.on_error

        def release(frame: dict[str, Any]) -> None:
            sem = self._waiters.pop(frame.get("ref") or "", None)
            if sem is not None:
                sem.release()

        self.on_ack = lambda f: (original_on_ack(f), release(f))  # type: ignore[method-assign]
        self.on_error = lambda f: (original_on_error(f), release(f))  # type: ignore[method-assign]
        fill_deadline = float(spec.get("backlog_timeout", 240))
        try:
            await asyncio.wait_for(asyncio.gather(*(fill(ps) for ps in by_sender.values())), fill_deadline)
        except TimeoutError:
            log("backlog fill timed out")
        while self.pending and time.perf_counter() - t2 < fill_deadline + 30:
            await asyncio.sleep(0.1)
        self.on_ack, self.on_error = original_on_ack, original_on_error  # type: ignore[method-assign]
        backlog_time = time.perf_counter() - t2
        backlog_ack = percentiles(self.ack_lat)
        log(f"backlog: {self.sent} sent, {self.acked} acked in {backlog_time:.1f}s")
        expected_echo = {id(s): len(by_sender[id(s)]) * backlog for s in sender_devices}
        echo_deadline = time.perf_counter() + 120
        while time.perf_counter() < echo_deadline:
            if all(len(s.seen) >= expected_echo[id(s)] for s in sender_devices):
                break
            await asyncio.sleep(0.2)
        outbox_drained = time.perf_counter() - t2
        log(f"worker caught up {outbox_drained:.1f}s after the backlog started")
        await asyncio.sleep(1.0)

        # 3. Everyone reconnects at once.
        for pair in pairs:
            pair.recipient.want = len(pair.acked_ids)
            pair.recipient.done_ns = None
        emit({"phase": "load", "duration": float(spec.get("reconnect_timeout", 60))})
        self.del_lat.clear()
        closes_before = Counter(self.closes)
        t0 = now_ns()
        connect_ns: list[int] = []

        async def reconnect(device: Device) -> None:
            await self.connect_all([device], 0, open_timeout=float(spec.get("reconnect_timeout", 60)))
            if device.ws is not None:
                connect_ns.append(now_ns() - t0)

        connect_task = asyncio.gather(*(reconnect(d) for d in rec_devices))
        timeout = float(spec.get("reconnect_timeout", 60))
        from tests.bench.scenarios.resume import Resumer

        resumer = Resumer(self, open_timeout=timeout)
        for i in itertools.count():  # bounded by the timeout
            if (now_ns() - t0) / 1e9 >= timeout or all(d.done_ns is not None for d in rec_devices if d.want):
                break
            if i % 10 == 9:
                resumer.check([d for d in rec_devices if d.want])
            await asyncio.sleep(0.02)
        emit({"phase": "drain"})
        await asyncio.sleep(1.0)  # trailing duplicates
        done = [d.done_ns - t0 for d in rec_devices if d.done_ns is not None]
        storm_closes = dict(self.closes - closes_before)  # close codes seen from the reconnect on
        await asyncio.wait_for(connect_task, timeout + 10)
        resumed = await resumer.finish(10.0)
        within_10 = sum(1 for x in done if x <= 10e9)
        within_5 = sum(1 for x in done if x <= 5e9)
        lost_ids = sum(len(p.acked_ids - p.recipient.seen) for p in pairs)
        await self.shutdown(sender_devices + rec_devices)
        return {
            "kind": "reconnect",
            "devices": k,
            "senders": n_senders,
            "backlog": backlog,
            "setup_users_s": round(setup_users, 2),
            "first_seen_s": round(first_seen, 2),
            "cursor_min": min(cursors) if cursors else None,
            "backlog_fill_s": round(backlog_time, 2),
            "backlog_rate": round(self.sent / backlog_time, 1) if backlog_time else 0.0,
            "backlog_ack_ms": backlog_ack,
            "worker_caught_up_s": round(outbox_drained, 2),
            "sent": self.sent,
            "acked": self.acked,
            "failed": self.failed,
            "unacked": len(self.pending),
            "delivered": sum(len(d.seen) for d in rec_devices),
            "lost": lost_ids,
            "dup": sum(d.dups for d in rec_devices),
            "gaps": sum(d.gaps for d in rec_devices),
            "out_of_order": sum(d.out_of_order for d in rec_devices),
            "reconnected": len(connect_ns),
            "connect_ms": percentiles(connect_ns),
            "complete": len(done),
            "complete_ms": percentiles(done),
            "within_10s": within_10,
            "within_5s": within_5,
            "storm_closes": storm_closes,
            "storm_closed_4008": storm_closes.get("4008", 0),
            **resumed,  # devices the server closed before they completed, reconnected (≤ 3 times each)
            "age_at_receipt_ms": percentiles(self.del_lat),  # send -> received after the reconnect
            **self.error_counts(),
            "resyncs": self.resyncs,
            "frames": dict(self.frames),
            "wall_s": round(time.perf_counter() - started, 1),
        }

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


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def amain(spec: dict[str, Any]) -> dict[str, Any]:
    if spec["kind"] == "sequential":
        from tests.bench.scenarios.sequential import SequentialRun

        return await SequentialRun(spec).run()
    if spec["kind"] == "group":
        from tests.bench.scenarios.group import GroupRun

        return await GroupRun(spec).run()
    gen = Generator(spec)
    if spec["kind"] == "reconnect":
        return await gen.run_reconnect()
    return await gen.run_rate()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.loadgen")
    parser.add_argument("--spec", required=True, help="a JSON file describing the run")
    args = parser.parse_args(argv)
    with open(args.spec) as f:
        spec = json.load(f)
    nofile = raise_nofile()
    log(f"target={spec['target']} kind={spec['kind']} nofile={nofile}")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        result = asyncio.run(amain(spec))
    except Exception as exc:  # noqa: BLE001 - reported to the orchestrator, not a traceback
        import traceback

        traceback.print_exc()
        emit({"result": {"error": f"{type(exc).__name__}: {exc}"}})
        raise SystemExit(1) from None
    emit({"result": result})


if __name__ == "__main__":
    main()
