"""Scenario `group`: one group chat of M members, every member with one socket.

1. Setup (not timed): M users; the first creates the group (POST /chats, type group) with as
   many members as one request takes, then adds the rest in batches (POST /chats/{id}/members;
   both routes cap the list at MEMBER_BATCH ids). The relay: a `register_chat` frame.
2. Connect: all M sockets, `connect_concurrency` handshakes in flight; timed from the first
   handshake to the last `connected` frame (target: 10 s for 1,000).
3. Settle: wait until no frame has arrived for 1 s (replays, presence), at most `settle_timeout`.
4. Phases `[[rate, seconds], ...]` (default 1 msg/s for 10 s, then 5 msg/s for 10 s): open-loop
   sends from `group_senders` members in turn, then up to `drain` s for every member to have
   every acked message of the phase. A member whose socket the server closes (4008, 1001, ...)
   reconnects and resumes from its cursor, as a client does, at most 3 times (`resumes`; the
   close codes are counted). Per phase: expected deliveries (acked messages × (M − 1):
   every member except the sender, whose own echo is not counted), received, lost (expected −
   received), dup, delivery latency (send → each member's `message` event).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import websockets

from tests.bench.devices import Device, Identity
from tests.bench.generator import Generator
from tests.bench.measure import emit, log, now_ns, percentiles
from tests.bench.scenarios.resume import Resumer

MEMBER_BATCH = 200  # app/api/schemas.py: CreateChatIn.member_ids and AddMembersIn.user_ids, max_length=200


@dataclass
class Phase:
    index: int
    rate: float
    duration: float
    sent: int = 0
    acked_ids: dict[int, int] = field(default_factory=dict)  # message id -> sender user id
    latencies: list[int] = field(default_factory=list)
    send_time: float = 0.0
    drain_time: float = 0.0


class GroupRun(Generator):
    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__(spec)
        self.chat_id = 0
        self.phases: list[Phase] = []
        self.members: list[Device] = []
        self.resumer = Resumer(self, open_timeout=float(spec.get("connect_timeout", 120.0)))

    # --- callbacks ---------------------------------------------------------------------------
    def count_ack(self, owner: Any, message: dict[str, Any]) -> None:
        phase: Phase = owner
        phase.acked_ids[int(message["id"])] = int(message["sender_id"])

    def on_delivered(self, device: Device, message: dict[str, Any]) -> None:
        if int(message.get("sender_id") or 0) == device.ident.user_id:
            return  # the sender's own echo (Messenger Core sends it; the relay does not)
        content = str(message.get("content", ""))
        sent_ns = parse_int(content, "t=")
        phase = parse_int(content, ";p=")
        if sent_ns is None or phase is None or not 0 <= phase < len(self.phases):
            return
        self.delivered += 1
        self.phases[phase].latencies.append(now_ns() - sent_ns)

    # --- setup -------------------------------------------------------------------------------
    async def create_group(self, http: httpx.AsyncClient | None, idents: list[Identity]) -> int:
        if http is None:
            return 1
        owner, others = idents[0], [i.user_id for i in idents[1:]]
        auth = {"Authorization": f"Bearer {owner.token}"}
        r = await http.post("/chats", json={"type": "group", "title": f"bench {self.run_id}",
                                            "member_ids": others[:MEMBER_BATCH]}, headers=auth)
        if r.status_code != 201:
            raise RuntimeError(f"create group {r.status_code}: {r.text[:200]}")
        chat_id = int(r.json()["id"])
        for start in range(MEMBER_BATCH, len(others), MEMBER_BATCH):
            r = await http.post(f"/chats/{chat_id}/members", json={"user_ids": others[start:start + MEMBER_BATCH]},
                                headers=auth)
            if r.status_code != 200:
                raise RuntimeError(f"add members {r.status_code}: {r.text[:200]}")
        r = await http.get(f"/chats/{chat_id}", headers=auth)
        members = len(r.json().get("members") or [])
        if members != len(idents):
            raise RuntimeError(f"the group has {members} members, not {len(idents)}")
        return chat_id

    async def setup(self, m: int) -> list[Device]:
        http = await self.http_client()
        try:
            idents = await self.make_users(http, "member", m)
            self.chat_id = await self.create_group(http, idents)
        finally:
            if http is not None:
                await http.aclose()
        return [Device(self, ident, f"bench-g-{i}", "member") for i, ident in enumerate(idents)]

    async def register_relay_group(self, devices: list[Device]) -> None:
        if self.target != "relay":
            return
        members = [d.ident.user_id for d in devices]
        await devices[0].send_frame(orjson.dumps({"type": "register_chat",
                                                  "data": {"chat_id": self.chat_id, "members": members}}).decode())

    async def connect_members(self, devices: list[Device]) -> dict[str, Any]:
        concurrency = int(self.spec.get("connect_concurrency", 64))
        timeout = float(self.spec.get("connect_timeout", 120.0))
        times: list[int] = []
        t0 = now_ns()

        async def one(device: Device) -> None:
            if await self.connect_all([device], 0, open_timeout=timeout) and device.ws is not None:
                times.append(now_ns() - t0)

        sem = asyncio.Semaphore(concurrency)

        async def limited(device: Device) -> None:
            async with sem:
                await one(device)

        try:
            await asyncio.wait_for(asyncio.gather(*(limited(d) for d in devices)), timeout * 2)
        except TimeoutError:
            log(f"connect phase cut off after {timeout * 2:.0f}s")
        all_s = (now_ns() - t0) / 1e9
        log(f"{len(times)}/{len(devices)} members connected in {all_s:.1f}s")
        return {"connected": len(times), "connect_all_s": round(all_s, 2), "connect_ms": percentiles(times),
                "connect_concurrency": concurrency}

    async def settle(self) -> float:
        """Until no frame for 1 s (replays of chat_updated, presence), at most settle_timeout."""
        limit = float(self.spec.get("settle_timeout", 60.0))
        t0 = time.perf_counter()
        last_total, quiet_since = -1, time.perf_counter()
        while time.perf_counter() - t0 < limit:
            total = sum(self.frames.values())
            if total != last_total:
                last_total, quiet_since = total, time.perf_counter()
            elif time.perf_counter() - quiet_since >= 1.0:
                break
            await asyncio.sleep(0.1)
        return round(time.perf_counter() - t0, 2)

    # --- load --------------------------------------------------------------------------------
    def message_text(self, phase: Phase, k: int) -> tuple[str, str]:
        client_msg_id = f"{self.run_id}-g{phase.index}-{k}"
        content = f"t={now_ns()};k={k};p={phase.index}"
        frame = {"type": "message", "data": {"chat_id": self.chat_id, "content": content,
                                             "client_msg_id": client_msg_id}, "ref": client_msg_id}
        return client_msg_id, orjson.dumps(frame).decode()

    async def send_phase(self, phase: Phase, senders: list[Device]) -> None:
        """Open loop: message n at t0 + n/rate from senders[n % len]; ends at duration + 0.5 s."""
        total = int(phase.rate * phase.duration)
        t0 = time.perf_counter()
        for n in range(total):
            await asyncio.sleep(max(0.0, t0 + n / phase.rate - time.perf_counter()))
            if time.perf_counter() > t0 + phase.duration + 0.5:
                break
            self.resumer.check(self.members)
            sender = senders[n % len(senders)]
            ref, text = self.message_text(phase, n)
            self.pending[ref] = (now_ns(), phase)
            try:
                await sender.send_frame(text)
                phase.sent += 1
                self.sent += 1
            except websockets.ConnectionClosed:
                self.pending.pop(ref, None)
                self.errors["sender_closed"] += 1
        phase.send_time = time.perf_counter() - t0

    def received(self, phase: Phase, devices: list[Device]) -> int:
        ids = phase.acked_ids
        return sum(1 for d in devices for mid in d.seen if mid in ids and ids[mid] != d.ident.user_id)

    async def drain_phase(self, phase: Phase, devices: list[Device]) -> dict[str, Any]:
        drain = float(self.spec.get("drain", 10.0))
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < max(drain, 10.0) and any(v[1] is phase for v in self.pending.values()):
            self.resumer.check(devices)
            await asyncio.sleep(0.05)  # the phase's acks, bounded
        expected = len(phase.acked_ids) * (len(devices) - 1)
        t1 = time.perf_counter()
        while time.perf_counter() - t1 < drain and self.received(phase, devices) < expected:
            self.resumer.check(devices)
            await asyncio.sleep(0.1)
        phase.drain_time = time.perf_counter() - t0
        got = self.received(phase, devices)
        return {
            "rate": phase.rate, "duration": phase.duration, "sent": phase.sent, "acked": len(phase.acked_ids),
            "expected": expected, "received": got, "lost": expected - got,
            "send_time_s": round(phase.send_time, 2), "all_received_after_s": round(phase.drain_time, 2)
            if got >= expected else None,
            "delivery_ms": percentiles(phase.latencies),
        }

    async def run(self) -> dict[str, Any]:
        m = int(self.spec.get("members", 1000))
        started = time.perf_counter()
        emit({"phase": "setup"})
        devices = self.members = await self.setup(m)
        setup_s = time.perf_counter() - started
        log(f"{m} members in group {self.chat_id}, set up in {setup_s:.1f}s")
        self.ack_task = asyncio.create_task(self.ack_loop())
        emit({"phase": "connect"})
        connect = await self.connect_members(devices)
        live = [d for d in devices if d.ws is not None]
        await self.register_relay_group(devices)
        settle_s = await self.settle()
        frames_before_load = dict(self.frames)
        closes_before_load = dict(self.closes)
        senders = live[: max(1, int(self.spec.get("group_senders", 5)))]
        self.phases = [Phase(i, float(r), float(d)) for i, (r, d) in enumerate(self.spec.get("phases", [[1, 10], [5, 10]]))]
        emit({"phase": "load", "duration": sum(p.duration for p in self.phases)})
        results = []
        for phase in self.phases:
            await self.send_phase(phase, senders)
            results.append(await self.drain_phase(phase, devices))
            log(f"phase {phase.index}: " + str({k: results[-1][k] for k in ("sent", "acked", "expected", "received")}))
        emit({"phase": "drain"})
        await asyncio.sleep(0.5)  # trailing duplicates
        emit({"phase": "drained"})  # the end of the CPU window (tests/bench/__main__.py)
        resumed = await self.resumer.finish(10.0)
        dups = sum(d.dups for d in devices)
        await self.shutdown(devices)
        return {
            "kind": "group", "members": m, "chat_id": self.chat_id, "senders": len(senders),
            "setup_users_s": round(setup_s, 2), **connect, "settle_s": settle_s,
            "phases": results,
            "sent": self.sent, "acked": self.acked, "failed": self.failed, "unacked": len(self.pending),
            "expected": sum(r["expected"] for r in results), "delivered": sum(r["received"] for r in results),
            "lost": sum(r["lost"] for r in results), "dup": dups, **resumed,
            "gaps": sum(d.gaps for d in devices), "out_of_order": sum(d.out_of_order for d in devices),
            "ack_ms": percentiles(self.ack_lat),
            "errors": dict(self.errors), "closes": dict(self.closes), "closes_before_load": closes_before_load,
            "reader_errors": dict(self.reader_errors), "connect_errors": dict(self.connect_errors),
            "setup_errors": dict(self.setup_errors), "resyncs": self.resyncs, **self.ack_stats(),
            "frames": dict(self.frames), "frames_before_load": frames_before_load,
            "wall_s": round(time.perf_counter() - started, 1),
        }


def parse_int(content: str, key: str) -> int | None:
    """`t=123;k=4;p=1` -> the integer after `key` ("t=" at the start, ";p=" inside)."""
    if key == "t=":
        start = 0 if content.startswith("t=") else -1
    else:
        start = content.find(key)
    if start < 0:
        return None
    rest = content[start + len(key):]
    try:
        return int(rest.split(";", 1)[0])
    except ValueError:
        return None


