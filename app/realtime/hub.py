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

CLOSE_OVERFLOW = 4008
REPLAY_BATCH_MAX = 500
SLOW_CLIENT_SECONDS = 10.0  # a send queue not emptied for this long belongs to a slow client
ACK_LATENCY_TRACKED = 2048  # recent live events whose commit time we keep for commit_to_ack


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
        self.last_drained = time.monotonic()
        self.last_received = time.monotonic()
        self.acked = cursor
        self.ack_reported = cursor
        self.rate_limit_strikes = 0
        self._request_replay = request_replay
        self._commit_times: OrderedDict[int, float] = OrderedDict()

    # --- inbox events ----------------------------------------------------------------------
    def offer(self, frame: dict[str, Any], *, live: bool) -> None:
        seq = frame["data"]["inbox_seq"]
        if seq < self.next_seq:
            return
        if seq > self.next_seq:
            self.need_replay()
            return
        self.next_seq += 1
        committed_at = frame.get("committed_at")
        if live and committed_at:
            now = time.time()
            metrics.DELIVERY_LATENCY.labels(stage="commit_to_push").observe(max(0.0, now - committed_at))
            self._commit_times[seq] = committed_at
            if len(self._commit_times) > ACK_LATENCY_TRACKED:
                self._commit_times.popitem(last=False)
        metrics.WS_EVENTS_PUSHED.labels(type=frame["type"]).inc()
        self.send({"type": frame["type"], "data": frame["data"]})

    def replay_room(self) -> int:
        """How many replayed events fit in the send queue, leaving room for live ones, so a
        long backlog is fed in batches and never overflows a healthy client."""
        headroom = max(1, self.queue.maxsize // 4)
        return max(0, min(REPLAY_BATCH_MAX, self.queue.maxsize - self.queue.qsize() - headroom))

    def drained(self) -> None:
        """The send loop emptied the queue: continue a replay that paused for room."""
        self.last_drained = time.monotonic()
        if self.resume_when_drained:
            self.resume_when_drained = False
            self.need_replay()

    def need_replay(self) -> None:
        if self.replay_pending_since is None:
            self.replay_pending_since = time.monotonic()
            self._request_replay(self)

    def replay_done(self) -> None:
        self.replay_pending_since = None

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
            metrics.DELIVERY_LATENCY.labels(stage="commit_to_ack").observe(max(0.0, now - committed_at))
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
            self.close(CLOSE_OVERFLOW)

    def is_stalled(self, now: float) -> bool:
        """Events wait in the queue and the client has not taken them for a long time: it
        falls behind without ever overflowing, because replays only fill the room left."""
        return not self.queue.empty() and now - self.last_drained > SLOW_CLIENT_SECONDS

    def close(self, code: int) -> None:
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
