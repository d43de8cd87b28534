"""Fan-out from the broker to this instance's connections, and the loops that keep every
connection whole when pub/sub drops something: replays, reconciliation, acks, revocations."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from arq.connections import ArqRedis
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app import keys, metrics
from app.config import Settings
from app.jsonutil import dumps_str
from app.realtime.broker import RedisBroker
from app.realtime.codes import Close
from app.realtime.envelopes import Ephemeral, InstanceBatch, Replay, Replays, SessionRevoked, UnknownEnvelope, decode
from app.realtime.hooks import NodeHooks
from app.realtime.hub import Connection, Hub
from app.realtime.routes import publish_routed

log = logging.getLogger(__name__)

FLUSH_BATCH_FRAMES = 5000  # replayed events one flush job may carry (its reply is one message)
RECONCILE_INTERVAL = 1.0
REPLAY_RETRY_AFTER = 3.0
ACK_FLUSH_INTERVAL = 0.05
REVOCATION_SWEEP_TICKS = 10  # seconds between sweeps of every socket's session


class Node:
    def __init__(
        self,
        *,
        settings: Settings,
        redis: ArqRedis,
        hooks: NodeHooks,
    ) -> None:
        self.instance_id = uuid.uuid4().hex
        self.hub = Hub()
        self._settings = settings
        self._redis = redis
        self._channels = keys.Channels.of(redis)
        self._hooks = hooks
        self._broker = RedisBroker(redis, self._on_message, on_reconnect=self._on_broker_reconnect)
        self._tasks: list[asyncio.Task[None]] = []
        self._behind: dict[str, int] = {}
        self._acked: set[Connection] = set()  # connections whose cursor moved since the last flush
        self._replays_wanted: dict[str, Connection] = {}
        self._replay_task: asyncio.Task[None] | None = None
        self._check_all_now = False

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        await self._broker.subscribe(self._channels.instance(self.instance_id), self._channels.revoked)
        self._broker.start()
        self._tasks = [
            asyncio.create_task(self._reconcile_loop(), name="reconcile"),
            asyncio.create_task(self._ack_loop(), name="acks"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._flush_acks()
        await self._broker.stop()

    def close_all(self, code: int) -> None:
        for conn in self.hub.all():
            conn.close(code)

    # --- connections -------------------------------------------------------------------------
    async def attach(self, conn: Connection) -> None:
        # The connection's id names this instance and is in the user's presence set since
        # the handshake (app/realtime/routes.py): anything committed before the replay reads
        # is in it, anything after is published to this instance.
        self.hub.add(conn)
        conn.need_replay()
        await self._hooks.on_connect(user_id=conn.user_id, connection_id=conn.id)

    async def detach(self, conn: Connection) -> None:
        self._behind.pop(conn.id, None)
        self._replays_wanted.pop(conn.id, None)
        if conn.acked > conn.ack_reported:
            await self._flush_acks()  # while the connection is still in the hub
        self._acked.discard(conn)
        self.hub.remove(conn)
        await self._hooks.on_disconnect(user_id=conn.user_id, connection_id=conn.id)

    def note_ack(self, conn: Connection) -> None:
        self._acked.add(conn)

    def request_replay(self, conn: Connection) -> None:
        """Ask a worker for this connection's events after its cursor. Requests are batched:
        while one flush job is being enqueued, later requests wait and go in the next job,
        so a reconnect storm costs a few jobs, not one per device."""
        self._replays_wanted[conn.id] = conn
        if self._replay_task is None or self._replay_task.done():
            self._replay_task = asyncio.get_running_loop().create_task(self._enqueue_flushes())

    async def _enqueue_flushes(self) -> None:
        while self._replays_wanted:
            batch: list[list[Any]] = []
            frames = 0
            for conn_id, conn in list(self._replays_wanted.items()):
                if frames >= FLUSH_BATCH_FRAMES:
                    break
                del self._replays_wanted[conn_id]
                room = max(1, conn.replay_room())
                batch.append([conn.id, conn.user_id, conn.next_seq - 1, room])
                frames += room
            try:
                await self._redis.enqueue_job(keys.FLUSH_JOB, self.instance_id, batch, _job_id=f"{keys.FLUSH_JOB}:{uuid.uuid4().hex}")
                await self._redis.publish(self._channels.wake, b"1")
            except (RedisError, OSError):
                metrics.DEPENDENCY_ERRORS.labels(dependency="redis", component="replay").inc()
                # The reconcile loop asks again for connections still waiting.

    # --- ephemeral events (never stored, never replayed) ---------------------------------------
    async def publish_ephemeral(self, user_ids: list[int], frame: dict[str, Any]) -> None:
        await publish_ephemeral(self._redis, user_ids, frame)

    # --- broker messages -----------------------------------------------------------------------
    async def _on_message(self, channel: str, data: bytes) -> None:
        try:
            envelope = decode(data)
        except UnknownEnvelope as exc:  # another version's message (rolling deploy): skip it
            log.warning("unknown pub/sub message skipped", extra={"channel": channel, "error": str(exc)})
            return
        if isinstance(envelope, InstanceBatch):  # live inbox events and ephemeral frames of our users
            now = time.time()
            for events in envelope.events:
                conns = self.hub.of_user(events.user_id)
                if events.published_at and conns:
                    metrics.DELIVERY_LATENCY.labels(stage="publish_to_push").observe(max(0.0, now - events.published_at))
                for conn in conns:
                    for frame in events.frames:
                        conn.offer(frame, live=True)
            for ephemeral in envelope.ephemerals:
                for conn in self.hub.of_user(ephemeral.user_id):
                    conn.send_text(ephemeral.text)
        elif isinstance(envelope, Replays):  # an offline flush for some of our connections
            for replay in envelope.replays:
                self._apply_replay(replay)
        elif isinstance(envelope, SessionRevoked):
            self._close_session(envelope.session_id)

    def _apply_replay(self, replay: Replay) -> None:
        conn = self.hub.get(replay.user_id, replay.conn)
        if conn is None or (replay.after != conn.next_seq - 1 and replay.resync_to is None):
            return  # a stale replay: the connection moved on or asked again from elsewhere
        metrics.REPLAY_EVENTS.observe(len(replay.frames))
        conn.replay_done()
        if replay.resync_to is not None:
            conn.next_seq = replay.resync_to + 1
            conn.send({"type": "resync", "data": {"inbox_seq": replay.resync_to}})
            return
        for frame in replay.frames:
            if conn.replay_room() <= 0:
                conn.resume_when_drained = True  # the send loop asks for the rest
                return
            conn.offer(frame, live=False)
        if not replay.complete:
            conn.need_replay()

    def _close_session(self, session_id: str) -> None:
        for conn in self.hub.all():
            if str(conn.session_id) == session_id:
                conn.close(Close.SESSION_ENDED)

    def _on_broker_reconnect(self) -> None:
        self._check_all_now = True

    # --- loops -----------------------------------------------------------------------------------
    async def _reconcile_loop(self) -> None:
        """Catch what pub/sub lost: replays that never came back, events published while we
        were disconnected, revocations missed, and presence entries about to lapse."""
        tick = 0
        while True:
            await asyncio.sleep(RECONCILE_INTERVAL)
            tick += 1
            try:
                await self._reconcile(full=self._check_all_now or tick % 2 == 0, tick=tick)
                self._check_all_now = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # PostgreSQL or Redis away: try again next tick
                metrics.DEPENDENCY_ERRORS.labels(dependency=_dependency_of(exc), component="reconcile").inc()
                log.warning("reconcile failed", extra={"error": repr(exc)})

    async def _reconcile(self, *, full: bool, tick: int) -> None:
        conns = self.hub.all()
        now = time.monotonic()
        for conn in conns:
            if conn.is_stalled(now):
                conn.close(Close.FELL_BEHIND)
                continue
            if conn.replay_pending_since is not None and now - conn.replay_pending_since > REPLAY_RETRY_AFTER:
                conn.replay_pending_since = now
                self.request_replay(conn)
        # Presence: each connection's entry is pushed forward once per half heartbeat, a slice
        # per tick, so thousands of sockets never make one long pipeline.
        period = max(1, int(self._settings.heartbeat_interval / 2))
        if conns:
            await self._hooks.on_alive([(c.user_id, c.id) for c in conns[tick % period :: period]])
        if not conns or not full:
            return
        last = await self._hooks.inbox_heads(self.hub.users())
        for conn in conns:
            if conn.replay_pending_since is None and last.get(conn.user_id, 0) >= conn.next_seq:
                # Behind on two checks in a row at the same place: the live copy was lost.
                if self._behind.get(conn.id) == conn.next_seq:
                    conn.need_replay()
                self._behind[conn.id] = conn.next_seq
            else:
                self._behind.pop(conn.id, None)
        if tick % REVOCATION_SWEEP_TICKS == 0:  # pub/sub is the fast path; this is the net
            await self._check_revocations(conns)


    async def _check_revocations(self, conns: list[Connection]) -> None:
        """The safety net under the revocation channel: one Redis round trip for all."""
        sessions = list({c.session_id for c in conns})
        for session_id in await self._hooks.sessions_ended(sessions):
            self._close_session(str(session_id))

    async def _ack_loop(self) -> None:
        while True:
            await asyncio.sleep(ACK_FLUSH_INTERVAL)
            try:
                await self._flush_acks()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                metrics.DEPENDENCY_ERRORS.labels(dependency=_dependency_of(exc), component="acks").inc()
                log.warning("ack flush failed", extra={"error": repr(exc)})
                await asyncio.sleep(1.0)

    async def _flush_acks(self) -> None:
        """Every device's ack since the last flush, handed to the hooks in one batch per interval."""
        pending: dict[tuple[int, str], tuple[Connection, int]] = {}
        acked, self._acked = self._acked, set()
        for conn in acked:
            if conn.acked > conn.ack_reported:
                key = (conn.user_id, conn.device_id)
                if key not in pending or pending[key][1] < conn.acked:
                    pending[key] = (conn, conn.acked)
        if not pending:
            return
        try:
            await self._hooks.on_acks([(u, d, seq) for (u, d), (_, seq) in pending.items()])
        except BaseException:
            self._acked |= {conn for conn, _ in pending.values()}  # retried on the next flush
            raise
        for conn, seq in pending.values():
            conn.ack_reported = max(conn.ack_reported, seq)


def _dependency_of(exc: BaseException) -> str:
    return "redis" if isinstance(exc, RedisError) else "postgres"


async def publish_ephemeral(redis: Redis, user_ids: list[int], frame: dict[str, Any]) -> None:
    """A frame for these users' sockets on every instance holding one, never stored nor
    replayed: rendered once here, sent as it is by each gateway."""
    if not user_ids:
        return
    text = dumps_str(frame)
    await publish_routed(redis, ephemerals=[Ephemeral(user_id=user_id, text=text) for user_id in user_ids])
