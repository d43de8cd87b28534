"""Steady load over two API instances, with bookkeeping to prove nothing acknowledged is lost.

Senders post over REST, alternating instances and retrying the same client_msg_id until it
is acknowledged. Recipients hold a WebSocket, reconnect to the other instance whenever theirs
goes away, ack what they get, and record every inbox_seq and message id they saw.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from dataclasses import dataclass, field

import httpx
import websockets

from tests.support.clients import User, direct_chat, make_user
from tests.support.wsclient import WsClient, close_code


@dataclass
class Recipient:
    user: User
    ws_urls: list[str]
    device_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    seqs: set[int] = field(default_factory=set)
    received: dict[int, int] = field(default_factory=dict)  # message id -> times received
    first_seen: dict[int, float] = field(default_factory=dict)
    reconnects: int = 0
    resyncs: int = 0  # the server said "refetch over REST": never expected here
    close_codes: list[int | None] = field(default_factory=list)
    # One entry per connection, for the diagnosis of a loss: [opened at, url, cursor in
    # `connected`, first inbox_seq, last inbox_seq, close code].
    connections: list[list[object]] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        urls = itertools.cycle(self.ws_urls)
        url = next(urls)
        while not stop.is_set():
            try:
                client = await WsClient.open(url, token=self.user.token, device_id=self.device_id, max_size=2**20)
                try:
                    self.connections.append([round(time.monotonic(), 2), url, None, None, None, None])
                    await self._read(client, stop)
                finally:
                    await client.close()
            except (TimeoutError, OSError, websockets.WebSocketException) as exc:
                code = close_code(exc)
                self.close_codes.append(code)
                if self.connections:
                    self.connections[-1][5] = code
            if stop.is_set():
                return
            self.reconnects += 1
            url = next(urls)  # the instance we were on may be gone: try the other one
            await asyncio.sleep(0.2)

    async def _read(self, client: WsClient, stop: asyncio.Event) -> None:
        acked = 0
        last_ack = 0.0
        while not stop.is_set():
            try:
                frame = await client.recv(0.5)  # pings are answered inside
            except TimeoutError:
                frame = None
            if frame is not None:
                data = frame.get("data") or {}
                if frame["type"] == "resync":
                    self.resyncs += 1
                if frame["type"] == "connected":
                    self.connections[-1][2] = data.get("cursor")
                if "inbox_seq" in data and frame["type"] not in ("connected", "resync"):
                    self.seqs.add(data["inbox_seq"])
                    this = self.connections[-1]
                    this[3] = data["inbox_seq"] if this[3] is None else this[3]
                    this[4] = data["inbox_seq"]
                    acked = max(acked, data["inbox_seq"])
                    if frame["type"] == "message":
                        mid = data["message"]["id"]
                        self.received[mid] = self.received.get(mid, 0) + 1
                        self.first_seen.setdefault(mid, time.monotonic())
            if acked and time.monotonic() - last_ack > 0.05:
                await client.ack(acked)
                last_ack = time.monotonic()

    def gaps(self) -> list[int]:
        if not self.seqs:
            return []
        return sorted(set(range(1, max(self.seqs) + 1)) - self.seqs)


@dataclass
class Sender:
    user: User
    chat_id: int
    base_urls: list[str]
    acked: dict[int, float] = field(default_factory=dict)  # message id -> time acknowledged
    trail: dict[int, list[str]] = field(default_factory=dict)  # message id -> each attempt's outcome
    attempts: int = 0
    refusals: dict[int, int] = field(default_factory=dict)  # status -> count

    async def run(self, stop: asyncio.Event, rate: float) -> None:
        clients = [httpx.AsyncClient(base_url=u, timeout=5.0) for u in self.base_urls]
        try:
            for n in itertools.count():
                if stop.is_set():
                    return
                key = f"{self.user.id}-{n}"
                outcomes: list[str] = []
                for attempt in itertools.count():
                    if stop.is_set() and attempt > 50:
                        break
                    self.attempts += 1
                    client = clients[(n + attempt) % len(clients)]
                    try:
                        r = await client.post(
                            "/messages",
                            json={"chat_id": self.chat_id, "content": f"m{n}", "client_msg_id": key},
                            headers=self.user.headers,
                        )
                    except httpx.HTTPError as exc:
                        outcomes.append(f"{attempt}:{client.base_url.port}:{type(exc).__name__}")
                        await asyncio.sleep(0.2)
                        continue
                    outcomes.append(f"{attempt}:{client.base_url.port}:{r.status_code}")
                    if r.status_code in (200, 201):
                        self.acked.setdefault(r.json()["id"], time.monotonic())
                        self.trail[r.json()["id"]] = outcomes
                        break
                    self.refusals[r.status_code] = self.refusals.get(r.status_code, 0) + 1
                    assert r.status_code == 503, r.text  # the only refusal a fault may cause
                    await asyncio.sleep(0.2)
                await asyncio.sleep(1 / rate)
        finally:
            for client in clients:
                await client.aclose()


@dataclass
class Report:
    fault: str
    sent: int
    acknowledged: int
    delivered: int
    lost: int
    duplicates: int
    gaps: int
    resyncs: int
    recover_s: float | None

    def line(self) -> str:
        recover = f"{self.recover_s:.2f}s" if self.recover_s is not None else "n/a"
        return (
            f"{self.fault:<28} sent={self.sent:<5} acknowledged={self.acknowledged:<5} delivered={self.delivered:<5} "
            f"lost={self.lost:<3} duplicates={self.duplicates:<4} gaps={self.gaps:<3} resyncs={self.resyncs:<2} "
            f"recover={recover}"
        )


class Load:
    def __init__(self, senders: list[Sender], recipients: list[Recipient]) -> None:
        self.senders = senders
        self.recipients = recipients
        self._stop_send = asyncio.Event()
        self._stop_recv = asyncio.Event()
        self._receiving: list[asyncio.Task[None]] = []
        self._sending: list[asyncio.Task[None]] = []
        self.recipients_stopped_at: float | None = None  # monotonic; for the diagnosis of a loss

    @classmethod
    async def create(cls, base_urls: list[str], ws_urls: list[str], pairs: int) -> Load:
        senders, recipients = [], []
        async with httpx.AsyncClient(base_url=base_urls[0], timeout=10) as http:
            for i in range(pairs):
                a, b = await make_user(http), await make_user(http)
                chat = await direct_chat(http, a, b)
                senders.append(Sender(a, chat["id"], base_urls[i % 2 :] + base_urls[: i % 2]))
                recipients.append(Recipient(b, ws_urls[i % 2 :] + ws_urls[: i % 2]))
        return cls(senders, recipients)

    def start(self, rate_per_sender: float) -> None:
        self._receiving = [asyncio.create_task(r.run(self._stop_recv)) for r in self.recipients]
        self._sending = [asyncio.create_task(s.run(self._stop_send, rate_per_sender)) for s in self.senders]

    async def stop(self, drain_timeout: float = 45.0) -> None:
        """Stop sending, then wait until every acknowledged message arrived (or time runs out).

        The senders finish first: a request still in flight when sending stops may yet be
        acknowledged, and stopping the recipients before it is would count that message lost
        though it is delivered, with no gap (the shape of the two losses the stress loop has
        seen; the README says what is known of them)."""
        self._stop_send.set()
        await asyncio.gather(*self._sending)
        deadline = time.monotonic() + drain_timeout
        while time.monotonic() < deadline and any(self._missing(s, r) for s, r in zip(self.senders, self.recipients)):
            await asyncio.sleep(0.25)
        self._stop_recv.set()
        self.recipients_stopped_at = time.monotonic()
        await asyncio.gather(*self._receiving)

    @staticmethod
    def _missing(sender: Sender, recipient: Recipient) -> set[int]:
        return set(sender.acked) - set(recipient.received)

    def report(self, fault: str, injected_at: float | None) -> Report:
        acknowledged = sum(len(s.acked) for s in self.senders)
        lost = sum(len(self._missing(s, r)) for s, r in zip(self.senders, self.recipients))
        duplicates = sum(n - 1 for r in self.recipients for n in r.received.values())
        recover = None
        if injected_at is not None:
            after = [
                r.first_seen[mid] - injected_at
                for s, r in zip(self.senders, self.recipients)
                for mid, acked_at in s.acked.items()
                if acked_at >= injected_at and mid in r.first_seen
            ]
            recover = min(after) if after else None
        return Report(
            fault=fault,
            sent=sum(s.attempts for s in self.senders),
            acknowledged=acknowledged,
            delivered=sum(len(r.received) for r in self.recipients),
            lost=lost,
            duplicates=duplicates,
            gaps=sum(len(r.gaps()) for r in self.recipients),
            resyncs=sum(r.resyncs for r in self.recipients),
            recover_s=recover,
        )
