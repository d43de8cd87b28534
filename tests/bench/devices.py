"""The load generator's devices: one bench user's WebSocket (on the shared low-level client,
tests/support/wsclient.py) with the counters a run reports, and the sender/recipient pair of
a direct chat. A device's reader does the least per frame: one decode, no schema check."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import websockets

from tests.support.wsclient import WsClient, close_code

if TYPE_CHECKING:
    from tests.bench.generator import Generator


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
    ws: WsClient | None = None
    last_seq: int = 0  # the highest inbox_seq received
    held_seq: int = 0  # every inbox event up to this one received: what an ack may carry
    ahead: set[int] = field(default_factory=set)  # received beyond a gap in inbox_seq
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
        relay = gen.target == "relay"
        self.ws = await WsClient.open(
            gen.ws_url,
            token=None if relay else self.ident.token,
            user_id=self.ident.user_id if relay else None,  # the relay trusts the query string
            device_id=self.device_id,
            max_size=2**22,
            open_timeout=open_timeout,
            close_timeout=2,
            compression="deflate" if gen.deflate else None,
        )
        connected = await self.ws.expect_connected(open_timeout)
        cursor = int(connected.get("inbox_seq") or 0)
        self.last_seq = self.acked_seq = max(self.last_seq, cursor)
        # The server resumes from its cursor: whatever is missing above it comes again.
        self.held_seq = max(self.held_seq, cursor)
        self.ahead = {s for s in self.ahead if s > self.held_seq}
        self.close_code = None
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        gen = self.gen
        ws = self.ws
        assert ws is not None
        try:
            while True:
                frame = await ws.recv()  # pings are answered inside
                # The frame is counted (and a message's latency taken) before any ack goes out.
                if self._on_frame(frame):
                    await self.ack()
        except websockets.ConnectionClosedOK:
            pass  # 1000/1001, or our own close: reported as a close without a code
        except websockets.ConnectionClosed as closed:
            self.close_code = close_code(closed) or 1006
        except Exception as exc:  # noqa: BLE001 - recorded, never fatal for the run
            gen.reader_errors[repr(exc)[:120]] += 1
            self.close_code = -1
        finally:
            if not gen.closing:
                gen.closes[str(self.close_code)] += 1

    def _on_frame(self, frame: dict[str, Any]) -> bool:
        """Count one frame; True when the device should ack now (rather than at the next tick of
        the generator's ack loop): every inbox event with --ack-every-event, else once ACK_EVERY
        events are held and not acked."""
        gen = self.gen
        kind: Any = frame.get("type")
        data: Any = frame.get("data")
        gen.frames[kind] += 1
        if kind == "message_ack":
            gen.on_ack(frame)
            return False
        if kind == "error":
            gen.on_error(frame)
            return False
        if kind == "resync":
            gen.resyncs += 1
            self.last_seq = self.held_seq = int(data["inbox_seq"])
            self.ahead.clear()
            gen.dirty.add(self)
            return False
        ack_now = False
        if isinstance(data, dict) and "inbox_seq" in data:
            seq = int(data["inbox_seq"])
            if seq > self.last_seq + 1 and self.last_seq:
                self.gaps += 1
            if seq <= self.last_seq:
                self.out_of_order += 1
            else:
                self.last_seq = seq
            self._hold(seq)
            if self.held_seq > self.acked_seq:
                gen.dirty.add(self)
                ack_now = gen.ack_every_event or self.held_seq - self.acked_seq >= gen.ack_every
        if kind == "message":
            message = data["message"]
            message_id = int(message["id"])
            if message_id in self.seen:
                self.dups += 1
                return ack_now
            self.seen.add(message_id)
            if self.role in ("recipient", "member"):
                gen.on_delivered(self, message)
        return ack_now

    def _hold(self, seq: int) -> None:
        """Move `held_seq` (every inbox event up to it is held) past `seq` and whatever arrived
        ahead of it; an event beyond a gap waits in `ahead` until the gap fills."""
        if seq == self.held_seq + 1:
            self.held_seq = seq
            while self.ahead and self.held_seq + 1 in self.ahead:
                self.held_seq += 1
                self.ahead.discard(self.held_seq)
        elif seq > self.held_seq + 1:
            self.ahead.add(seq)

    async def send_frame(self, text: str) -> None:
        assert self.ws is not None
        await self.ws.send_text(text)

    async def ack(self) -> None:
        """Ack the highest inbox_seq up to which every event is held (a cumulative cursor, as the
        contract has it: app/ws/protocol.py AckData), once; nothing when it is acked already."""
        if self.ws is None or self.held_seq <= self.acked_seq:
            return
        self.acked_seq = self.held_seq
        self.gen.acks_sent += 1
        await self.ws.ack(self.held_seq)

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
