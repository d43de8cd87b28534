"""Scenario `sequential`: one sender, one recipient, one direct chat; N sends one at a time,
each waiting for the recipient's `message` event (at most `timeout` s) and a short gap before
the next. What one delivery costs on an otherwise idle system, against either target.

This is the loop of the former `python -m tests.bench.latency`, moved into the generator so
that the relay runs it too in the same invocation.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.bench.devices import Device, Pair
from tests.bench.generator import Generator
from tests.bench.measure import emit, log, now_ns, percentiles


class SequentialRun(Generator):
    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__(spec)
        self.waiting_k: int | None = None
        self.arrived = asyncio.Event()

    def on_delivered(self, device: Device, message: dict[str, Any]) -> None:
        super().on_delivered(device, message)
        content = str(message.get("content", ""))
        if self.waiting_k is not None and content.endswith(f";k={self.waiting_k}"):
            self.arrived.set()

    async def setup(self) -> Pair:
        http = await self.http_client()
        try:
            sender, recipient = (await self.make_users(http, "sender", 1))[0], (await self.make_users(http, "recipient", 1))[0]
            chat_id = (await self.make_chats(http, [(sender, recipient)]))[0]
        finally:
            if http is not None:
                await http.aclose()
        pair = Pair(0, chat_id, Device(self, sender, "bench-seq-s", "sender"),
                    Device(self, recipient, "bench-seq-r", "recipient"))
        if await self.connect_all([pair.recipient, pair.sender], 2) < 2:
            raise RuntimeError(f"the pair did not connect: {dict(self.connect_errors)}")
        await self.register_relay_chats([pair])
        await asyncio.sleep(float(self.spec.get("settle", 1.0)))  # chat_updated replays settle
        return pair

    async def run(self) -> dict[str, Any]:
        sends = int(self.spec.get("sends", 300))
        gap, timeout = float(self.spec.get("gap", 0.02)), float(self.spec.get("send_timeout", 5.0))
        started = time.perf_counter()
        emit({"phase": "setup"})
        pair = await self.setup()
        self.ack_task = asyncio.create_task(self.ack_loop())
        emit({"phase": "load", "duration": sends * (gap + 0.01)})
        timeouts = 0
        t0 = time.perf_counter()
        for k in range(sends):  # bounded: `sends` rounds of at most `timeout` + `gap` seconds
            self.waiting_k = k
            self.arrived.clear()
            ref, text = self.send_text(pair, k)
            self.pending[ref] = (now_ns(), pair)
            await pair.sender.send_frame(text)
            self.sent += 1
            try:
                await asyncio.wait_for(self.arrived.wait(), timeout)
            except TimeoutError:
                timeouts += 1
            # The recipient acks as every bench device does (generator.py: cumulative, from the
            # ack loop; with --ack-every-event, from its reader on receipt).
            await asyncio.sleep(gap)
        send_time = time.perf_counter() - t0
        emit({"phase": "drain"})
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline and (self.pending or pair.acked_ids - pair.recipient.seen):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # trailing duplicates
        emit({"phase": "drained"})  # the end of the CPU window (tests/bench/__main__.py)
        lost = len(pair.acked_ids - pair.recipient.seen)
        log(f"sequential: {self.sent} sends in {send_time:.1f}s, {timeouts} timed out, lost {lost}")
        await self.shutdown([pair.sender, pair.recipient])
        return {
            "kind": "sequential",
            "sends": sends,
            "gap_ms": gap * 1000,
            "sent": self.sent,
            "acked": self.acked,
            "failed": self.failed,
            "unacked": len(self.pending),
            "delivered": len(pair.recipient.seen),
            "lost": lost,
            "timed_out": timeouts,
            "dup": pair.recipient.dups,
            "gaps": pair.recipient.gaps,
            "out_of_order": pair.recipient.out_of_order,
            "send_time_s": round(send_time, 2),
            "ack_ms": percentiles(self.ack_lat),
            "delivery_ms": percentiles(self.del_lat),
            **self.error_counts(),
            **self.ack_stats(),
            "frames": dict(self.frames),
            "wall_s": round(time.perf_counter() - started, 1),
        }
