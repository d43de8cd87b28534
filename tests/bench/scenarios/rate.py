"""Scenario `rate`: N sender/recipient pairs plus M idle connections; open-loop sends at a
fixed total rate R for T seconds, then a drain; acks, deliveries, latencies. A message acked
but not received live is checked once more by reconnecting its recipient (replay from its
cursor): only what is still missing then counts as lost after reconnect."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.bench.devices import Device, Pair
from tests.bench.generator import Generator
from tests.bench.measure import emit, log, percentiles


class RateRun(Generator):
    async def run(self) -> dict[str, Any]:
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

        emit({"phase": "load", "duration": duration})
        t0, send_time, max_lag = await self.send_open_loop(pairs, rate, duration)
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
        emit({"phase": "drained"})  # the end of the CPU window (tests/bench/__main__.py)
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
            **self.ack_stats(),
            "resyncs": self.resyncs,
            "frames": dict(self.frames),
            "frames_before_load": frames_before_load,
            "wall_s": round(time.perf_counter() - started, 1),
        }
