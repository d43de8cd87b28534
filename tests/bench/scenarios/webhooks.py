"""Scenario `webhooks` (issue 29): N bots, each with its webhook on its own loopback receiver
(tests/bench/receivers.py, in this process) and in a direct chat with its own sender user;
the senders send `message` frames open-loop at a fixed total rate R for T seconds (message n
on pair n % N, as the `rate` scenario does), then a drain.

Figures: events/s the receivers accepted (message events, from the first one's arrival to
the last one's), send → receiver latency on this process's clock (the send stamp is in the
content), commit → receiver latency (the message's `created_at`, the server's wall clock, to
the arrival: one machine, one clock), and per bot: no gap and no duplicate `inbox_seq`, every
acknowledged message received (lost = acked before the drain, not received once nothing more
has arrived for `drain` seconds; the drain follows webhooks catching up for up to 2 minutes).

Against the relay the same load runs as the `rate` scenario with N pairs (the relay has no
webhooks: its figure is the message rate it delivers over WebSocket at the same offered rate),
plus the same first-to-last delivery rate.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.bench.devices import Device, Identity, Pair
from tests.bench.generator import Generator
from tests.bench.measure import emit, log, now_ns, percentiles
from tests.bench.receivers import Hook, ReceiverFarm
from tests.bench.report import _ms, _ratio, _result_or_error_row
from tests.bench.scenarios.rate import RateRun

SETUP_WAIT_S = 30.0  # for each bot's first event (chat_updated) before the load
DRAIN_MAX_S = 120.0  # the longest the drain follows webhooks still catching up


def _per_s(count: int, first_ns: int, last_ns: int) -> float:
    span = (last_ns - first_ns) / 1e9
    return round(count / span, 1) if span > 0 else 0.0


class WebhookRun(Generator):
    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__(spec)
        self.farm = ReceiverFarm()

    async def run(self) -> dict[str, Any]:
        await self.farm.start(int(self.spec["pairs"]))
        try:
            return await self._run()
        finally:
            await self.farm.stop()

    async def create_bots(self, http: httpx.AsyncClient, owners: list[Identity], hooks: list[Hook]) -> list[Identity]:
        """One bot per owner, its webhook at that owner's receiver; the secret is the receiver's
        before the bot is in any chat (its first event)."""
        sem = asyncio.Semaphore(int(self.spec.get("http_concurrency", 16)))

        async def one(owner: Identity, hook: Hook) -> Identity:
            username = f"b{self.run_id}_bot{hook.index}"
            async with sem:
                r = await http.post("/bots", json={"username": username, "webhook_url": hook.url},
                                    headers={"Authorization": f"Bearer {owner.token}"})
            if r.status_code != 201:
                raise RuntimeError(f"create bot {r.status_code}: {r.text[:200]}")
            body = r.json()
            hook.secret, hook.bot_id = str(body["webhook_secret"]), int(body["bot"]["id"])
            return Identity(hook.bot_id, username, str(body["token"]))

        return list(await asyncio.gather(*(one(o, h) for o, h in zip(owners, self.farm.hooks, strict=True))))

    async def webhook_states(self, http: httpx.AsyncClient, owners: list[Identity]) -> list[dict[str, Any]]:
        """Each owner's bot's `Webhook` as the server sees it (cursor, pending, last_error)."""
        states = []
        for owner in owners:  # bounded: one GET per owner
            r = await http.get("/bots", headers={"Authorization": f"Bearer {owner.token}"})
            if r.status_code == 200:
                states += [item["webhook"] or {} for item in r.json()["items"]]
        return states

    async def _run(self) -> dict[str, Any]:
        spec = self.spec
        n_bots = int(spec["pairs"])
        rate, duration, drain = float(spec["rate"]), float(spec["duration"]), float(spec.get("drain", 10.0))
        hooks = self.farm.hooks
        started = time.perf_counter()
        emit({"phase": "setup"})
        http = await self.http_client()
        assert http is not None
        try:
            senders = await self.make_users(http, "sender", n_bots)
            bots = await self.create_bots(http, senders, hooks)
            chat_ids = await self.make_chats(http, list(zip(senders, bots, strict=True)))
            setup_users = time.perf_counter() - started
            # The bot's side of a pair is its webhook: its Device never connects.
            pairs = [Pair(i, chat_ids[i], Device(self, senders[i], f"bench-s-{i}", "sender"),
                          Device(self, bots[i], f"bench-bot-{i}", "recipient")) for i in range(n_bots)]
            self.ack_task = asyncio.create_task(self.ack_loop())
            if await self.connect_all([p.sender for p in pairs], 32) < n_bots:
                raise RuntimeError(f"senders did not all connect: {dict(self.connect_errors)}")
            # Every bot's first event (chat_updated) at its receiver: the webhooks work before the load.
            wait_until = time.perf_counter() + SETUP_WAIT_S
            while time.perf_counter() < wait_until and not all(h.last_seq >= 1 for h in hooks):
                await asyncio.sleep(0.05)
            ready = sum(h.last_seq >= 1 for h in hooks)
            first_events_s = time.perf_counter() - started - setup_users
            log(f"{n_bots} bots, {ready} receivers had their first event {first_events_s:.1f}s after the chats")
            if ready < n_bots:
                raise RuntimeError(f"only {ready} of {n_bots} receivers got their first event in {SETUP_WAIT_S:g} s; "
                                   f"receiver problems {dict(self.farm.problems)}; "
                                   f"webhooks {(await self.webhook_states(http, senders))[:3]}")
            await asyncio.sleep(float(spec.get("settle", 1.0)))
            events_before_load, posts_before_load = sum(h.events for h in hooks), sum(h.posts for h in hooks)

            emit({"phase": "load", "duration": duration})
            t0, send_time, max_lag = await self.send_open_loop(pairs, rate, duration)
            t0_ns = int(t0 * 1e9)  # perf_counter and perf_counter_ns share a clock
            emit({"phase": "drain"})

            ack_deadline = time.perf_counter() + max(drain, 30.0)
            while self.pending and time.perf_counter() < ack_deadline:
                await asyncio.sleep(0.05)
            for pair in pairs:  # judged: acked before the drain, each had all of it to arrive
                pair.judged_ids = set(pair.acked_ids)
            # Webhooks behind the load catch up at their own pace: wait while events still
            # arrive (lost = nothing for `drain` s), up to DRAIN_MAX_S, so that events/s is what
            # the server sustains and not cut off by the bench.
            drain_from_ns = now_ns()
            drain_until = time.perf_counter() + DRAIN_MAX_S
            while time.perf_counter() < drain_until:
                if all(p.judged_ids <= h.message_ids for p, h in zip(pairs, hooks, strict=True)):
                    break
                if now_ns() - max(self.farm.last_ns, drain_from_ns) > drain * 1e9:
                    break
                await asyncio.sleep(0.05)
            drained_s = time.perf_counter() - t0 - send_time
            await asyncio.sleep(0.5)  # redeliveries trailing behind
            emit({"phase": "drained"})  # the end of the CPU window (tests/bench/__main__.py)
            states = await self.webhook_states(http, senders)
        finally:
            await http.aclose()
        lost = sum(len(p.judged_ids - h.message_ids) for p, h in zip(pairs, hooks, strict=True))
        farm = self.farm
        posts = sum(h.posts for h in hooks)
        events = sum(h.events for h in hooks)
        await self.shutdown([p.sender for p in pairs])
        return {
            "kind": "webhooks",
            "bots": n_bots,
            "rate": rate,
            "duration": duration,
            "setup_users_s": round(setup_users, 2),
            "first_events_s": round(first_events_s, 2),
            "sent": self.sent,
            "acked": self.acked,
            "failed": self.failed,
            "unacked": len(self.pending),
            "received": farm.message_events,  # distinct message events at the receivers
            "lost": lost,
            "dup": sum(h.dups for h in hooks),
            "gaps": sum(h.gaps for h in hooks),
            "missing_seqs": sum(h.missing for h in hooks),
            "gap_markers": sum(h.gap_markers for h in hooks),
            "receiver_problems": dict(farm.problems),
            "retries": farm.retries,
            "events": events,
            "events_before_load": events_before_load,
            "posts": posts,
            # during the load and the drain (the setup's chat_updated went one per POST)
            "events_per_post": round((events - events_before_load) / (posts - posts_before_load), 1)
            if posts > posts_before_load else 0.0,
            "largest_post": max(farm.batch_sizes, default=0),
            # message events per second at the receivers, from the first one's arrival to the last one's
            "events_per_s": _per_s(farm.message_events, farm.first_ns, farm.last_ns),
            "first_to_last_s": round((farm.last_ns - farm.first_ns) / 1e9, 2),
            "last_event_after_s": round((farm.last_ns - t0_ns) / 1e9, 2) if farm.last_ns else None,
            "drained_after_s": round(drained_s, 2),
            "achieved_rate": round(self.sent / send_time, 1) if send_time else 0.0,
            "acked_rate": round(self.acked / max(send_time, (self.last_ack_ns - t0_ns) / 1e9), 1) if send_time else 0.0,
            "send_time_s": round(send_time, 2),
            "max_send_lag_ms": round(max_lag * 1000, 1),
            "ack_ms": percentiles(self.ack_lat),
            "delivery_ms": percentiles(farm.send_lat),  # send → the receiver's arrival
            "commit_ms": percentiles(farm.commit_lat),  # created_at → the receiver's arrival
            "webhook_pending_after": sum(int(s.get("pending") or 0) for s in states),
            "webhook_errors_after": sorted({str(s["last_error"]) for s in states if s.get("last_error")})[:5],
            **self.error_counts(),
            **self.ack_stats(),
            "frames": dict(self.frames),
            "wall_s": round(time.perf_counter() - started, 1),
        }


class RelayRun(RateRun):
    """The relay's baseline: the `rate` scenario with the same pairs and rate, plus the rate of
    its deliveries from the first to the last, the figure beside ours."""

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__(spec)
        self.first_ns = 0
        self.last_ns = 0

    def on_delivered(self, device: Device, message: dict[str, Any]) -> None:
        super().on_delivered(device, message)
        self.last_ns = now_ns()
        self.first_ns = self.first_ns or self.last_ns

    async def run(self) -> dict[str, Any]:
        result = await super().run()
        result["events_per_s"] = _per_s(self.delivered, self.first_ns, self.last_ns)
        result["first_to_last_s"] = round((self.last_ns - self.first_ns) / 1e9, 2)
        return result


def _two(stats: dict[str, Any] | None) -> str:
    if not stats or not stats.get("n"):
        return "-"
    return f"{_ms(stats.get('p50'))} / {_ms(stats.get('p99'))}"


def table(rows: list[dict[str, Any]]) -> str:
    """Ours (events/s at the webhooks) beside the relay's (messages/s over WebSocket), same load."""
    lines = [
        "| scenario | target | sent / acked (acked/s) | received | events/s (first → last) | lost | dup | gaps | "
        "send → receiver ms p50 / p99 | commit → receiver ms p50 / p99 | POSTs (events per POST, retries) | "
        "worker CPU % |",
        "|" + "---|" * 12,
    ]
    for row in rows:
        ours, relay = row.get("messenger"), row.get("relay")
        for target, run in (("messenger", ours), ("relay", relay)):
            r = _result_or_error_row(lines, f"{row['name']} | {target}", run, 10)
            if r is None or run is None:
                continue
            cpu = run.get("cpu_load_phase") or {}
            if target == "messenger":
                lines.append(
                    f"| {row['name']} | webhooks ({r['bots']}) | {r['sent']} / {r['acked']} ({r['acked_rate']:.0f}) | "
                    f"{r['received']} | "
                    f"{r['events_per_s']:.0f} ({r['first_to_last_s']} s) | {r['lost']} | {r['dup']} | {r['gaps']} | "
                    f"{_two(r['delivery_ms'])} | {_two(r['commit_ms'])} | "
                    f"{r['posts']} ({r['events_per_post']:g}, {r['retries']}) | {cpu.get('worker', 0):.0f} |")
            else:
                lines.append(
                    f"| {row['name']} | relay, WebSocket ({r['pairs']} pairs) | {r['sent']} / {r['acked']} "
                    f"({r['acked_rate']:.0f}) | "
                    f"{r['delivered']} | {r['events_per_s']:.0f} ({r['first_to_last_s']} s) | {r['lost']} | {r['dup']} | "
                    f"{r['gaps']} | {_two(r['delivery_ms'])} | n/a | n/a | n/a |")
        if ours and relay and "error" not in ours["result"] and "error" not in relay["result"]:
            o, b = ours["result"], relay["result"]
            lat = " / ".join(_ratio(o["delivery_ms"].get(k), b["delivery_ms"].get(k)) for k in ("p50", "p99"))
            lines.append(f"| {row['name']} | ours ÷ relay | | | {_ratio(o['events_per_s'], b['events_per_s'])} | | | | "
                         f"{lat} | | | |")
    lines.append("")
    lines.append("events/s: message events accepted by the receivers (ours: webhook POSTs answered 200 at once; the "
                 "relay: `message` frames to the recipients' sockets), from the first one's arrival to the last one's; "
                 "at an offered rate the server keeps up with it equals the offered rate; it cannot exceed the rate "
                 "the API acknowledges (commits) messages at (acked/s). send → receiver: on the "
                 "generator's clock (the send stamp is in the content); commit → receiver: the message's `created_at` "
                 "to the arrival (one machine, one wall clock). gaps: jumps in a bot's `inbox_seq`; dup: an "
                 "`inbox_seq` or message received again; lost: acked before the drain, not at its webhook once "
                 "nothing more has arrived for 10 s (the drain follows webhooks catching up for up to 120 s).")
    return "\n".join(lines)
