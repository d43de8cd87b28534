"""This process's connections: who is connected, and each connection's delivery cursor.

A connection writes an inbox event only when its inbox_seq is exactly the next one it needs,
whatever the source (live pub/sub or a replay). That one rule gives ascending order, no
duplicates within a connection, and no gaps: anything else triggers a replay from PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from typing import Any

from app import metrics
from app.jsonutil import dumps_str
from app.realtime.codes import Close
from app.realtime.envelopes import InboxFrame

REPLAY_BATCH_MAX = 500
SLOW_CLIENT_SECONDS = 10.0  # a socket write blocked this long: the client is not reading
GAP_WAIT = 0.25  # seconds a live event past a gap waits for the events before it
EARLY_MAX = 256  # live events held past a gap before falling back to a replay
ACK_LATENCY_TRACKED = 2048  # recent live events whose commit time we keep for commit_to_ack
# Bound once: .labels() on every event is a measurable share of a busy gateway's CPU.
_COMMIT_TO_PUSH = metrics.DELIVERY_LATENCY.labels(stage="commit_to_push")
_COMMIT_TO_ACK = metrics.DELIVERY_LATENCY.labels(stage="commit_to_ack")


class Connection:
    def __init__(
        self,
        *,
        user_id: int,
        session_id: uuid.UUID,
        device_id: str,
        cursor: int,
        queue_size: int,
        request_replay: Callable[[Connection], None],
    ) -> None:
        self.id = uuid.uuid4().hex
        self.user_id = user_id
        self.session_id = session_id
        self.device_id = device_id
        self.next_seq = cursor + 1
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.replay_pending_since: float | None = None
        self.resume_when_drained = False  # a replay stopped early to leave room in the queue
        self.last_received = time.monotonic()
        self.acked = cursor
        self.ack_reported = cursor
        self.rate_limit_strikes = 0
        self._request_replay = request_replay
        self._commit_times: OrderedDict[int, float] = OrderedDict()
        self._early: dict[int, InboxFrame] = {}
        self._gap_timer: asyncio.TimerHandle | None = None
        self.write_started: float | None = None  # set while the send loop waits on the socket

    # --- inbox events ----------------------------------------------------------------------
    def offer(self, frame: InboxFrame, *, live: bool) -> None:
        seq = frame.seq
        if seq < self.next_seq:
            return
        if seq > self.next_seq:
            self._hold(seq, frame)
            return
        self._write(frame, live=live)
        # Live events that arrived early (another partition's drain published first, or the
        # replay was still on its way) follow as soon as the gap before them is filled.
        while self.next_seq in self._early:
            self._write(self._early.pop(self.next_seq), live=True)
        if self._early and min(self._early) < self.next_seq:
            self._early = {s: f for s, f in self._early.items() if s >= self.next_seq}
        if not self._early and self._gap_timer is not None:
            self._gap_timer.cancel()
            self._gap_timer = None

    def _hold(self, seq: int, frame: InboxFrame) -> None:
        """A live event past a gap: keep it a moment, since concurrent partitions publish in
        any order; a gap that outlives GAP_WAIT (a lost publish) is filled by a replay."""
        if len(self._early) >= EARLY_MAX:
            self._early.clear()
            self.need_replay()
            return
        self._early[seq] = frame
        if self._gap_timer is None and self.replay_pending_since is None:
            self._gap_timer = asyncio.get_running_loop().call_later(GAP_WAIT, self._gap_expired)

    def _gap_expired(self) -> None:
        self._gap_timer = None
        if self._early:
            self.need_replay()

    def _write(self, frame: InboxFrame, *, live: bool) -> None:
        seq = frame.seq
        self.next_seq += 1
        committed_at = frame.committed_at
        if live and committed_at:
            now = time.time()
            _COMMIT_TO_PUSH.observe(max(0.0, now - committed_at))
            self._commit_times[seq] = committed_at
            if len(self._commit_times) > ACK_LATENCY_TRACKED:
                self._commit_times.popitem(last=False)
        metrics.ws_event_pushed(frame.type)
        self.send_text(frame.text)

    def replay_room(self) -> int:
        """How many replayed events fit in the send queue, leaving room for live ones, so a
        long backlog is fed in batches and never overflows a healthy client."""
        headroom = max(1, self.queue.maxsize // 4)
        return max(0, min(REPLAY_BATCH_MAX, self.queue.maxsize - self.queue.qsize() - headroom))

    def drained(self) -> None:
        """The send loop emptied the queue: continue a replay that paused for room."""
        if self.resume_when_drained:
            self.resume_when_drained = False
            self.need_replay()

    def need_replay(self) -> None:
        if self.replay_pending_since is None:
            self.replay_pending_since = time.monotonic()
            self._request_replay(self)

    def replay_done(self) -> None:
        self.replay_pending_since = None
        if self._early and self._gap_timer is None:
            self._gap_timer = asyncio.get_running_loop().call_later(GAP_WAIT, self._gap_expired)

    def restart_from(self, seq: int) -> None:
        """`sync`: replay everything after seq, even what this connection already got."""
        self.next_seq = min(self.next_seq, seq + 1)
        self.replay_pending_since = None
        self.need_replay()

    def ack(self, seq: int) -> bool:
        """True when the cursor moved (the node then writes it in its next batch)."""
        if seq <= self.acked:
            return False
        now = time.time()
        while self._commit_times and next(iter(self._commit_times)) <= seq:
            _, committed_at = self._commit_times.popitem(last=False)
            _COMMIT_TO_ACK.observe(max(0.0, now - committed_at))
        self.acked = seq
        return True

    # --- writing ---------------------------------------------------------------------------
    def send(self, frame: dict[str, Any]) -> None:
        self.send_text(dumps_str(frame))

    def send_text(self, text: str) -> None:
        if self.closed.is_set():
            return
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            # A client that cannot keep up is closed, not allowed to grow our memory; it
            # resumes from its cursor on reconnect and loses nothing.
            self.close(Close.FELL_BEHIND)

    def is_stalled(self, now: float) -> bool:
        """One write to the socket has waited SLOW_CLIENT_SECONDS: the client's TCP window is
        shut because it does not read. This judges the client, never our own backlog (a
        server busy with a reconnect storm is slow to write, but its writes do not block)."""
        return self.write_started is not None and now - self.write_started > SLOW_CLIENT_SECONDS

    def close(self, code: int) -> None:
        if self._gap_timer is not None:
            self._gap_timer.cancel()
            self._gap_timer = None
        if not self.closed.is_set():
            self.close_code = code
            self.closed.set()


class Hub:
    def __init__(self) -> None:
        self._by_user: dict[int, dict[str, Connection]] = defaultdict(dict)

    def add(self, conn: Connection) -> bool:
        """True when this is the user's first connection on this instance."""
        first = not self._by_user.get(conn.user_id)
        self._by_user[conn.user_id][conn.id] = conn
        metrics.WS_CONNECTIONS.inc()
        return first

    def remove(self, conn: Connection) -> bool:
        """True when the user has no connection left on this instance."""
        conns = self._by_user.get(conn.user_id)
        if conns is None or conns.pop(conn.id, None) is None:
            return False
        metrics.WS_CONNECTIONS.dec()
        if not conns:
            del self._by_user[conn.user_id]
            return True
        return False

    def of_user(self, user_id: int) -> list[Connection]:
        return list(self._by_user.get(user_id, {}).values())

    def get(self, user_id: int, conn_id: str) -> Connection | None:
        return self._by_user.get(user_id, {}).get(conn_id)

    def users(self) -> list[int]:
        return list(self._by_user)

    def all(self) -> list[Connection]:
        return [c for conns in self._by_user.values() for c in conns.values()]
