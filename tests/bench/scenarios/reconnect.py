"""Scenario `reconnect`: K devices that were seen once, a backlog of B messages each sent
while they are offline, then all reconnect at once: time until each has all B. A device the
server closes before it completes resumes from its cursor (scenarios/resume.py)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from typing import Any

from tests.bench.devices import Device, Pair
from tests.bench.generator import Generator
from tests.bench.measure import emit, log, now_ns, percentiles
from tests.bench.scenarios.resume import Resumer


class ReconnectRun(Generator):
    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__(spec)
        # While the backlog fills: ref -> its sender's window, freed by the answer (ack or error).
        self.waiters: dict[str, asyncio.Semaphore] = {}

    def on_ack(self, frame: dict[str, Any]) -> None:
        super().on_ack(frame)
        self.release(frame)

    def on_error(self, frame: dict[str, Any]) -> None:
        super().on_error(frame)
        self.release(frame)

    def release(self, frame: dict[str, Any]) -> None:
        sem = self.waiters.pop(frame.get("ref") or "", None)
        if sem is not None:
            sem.release()

    async def run(self) -> dict[str, Any]:
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
                    self.waiters[ref] = sem
                    await pair.sender.send_frame(text)
                    self.sent += 1

        fill_deadline = float(spec.get("backlog_timeout", 240))
        try:
            await asyncio.wait_for(asyncio.gather(*(fill(ps) for ps in by_sender.values())), fill_deadline)
        except TimeoutError:
            log("backlog fill timed out")
        while self.pending and time.perf_counter() - t2 < fill_deadline + 30:
            await asyncio.sleep(0.1)
        self.waiters.clear()  # the backlog is over: later answers free no window
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
        resumer = Resumer(self, open_timeout=timeout)
        for i in itertools.count():  # bounded by the timeout
            if (now_ns() - t0) / 1e9 >= timeout or all(d.done_ns is not None for d in rec_devices if d.want):
                break
            if i % 10 == 9:
                resumer.check([d for d in rec_devices if d.want])
            await asyncio.sleep(0.02)
        emit({"phase": "drain"})
        await asyncio.sleep(1.0)  # trailing duplicates
        emit({"phase": "drained"})  # the end of the CPU window (tests/bench/__main__.py)
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
            **self.ack_stats(),
            "resyncs": self.resyncs,
            "frames": dict(self.frames),
            "wall_s": round(time.perf_counter() - started, 1),
        }
