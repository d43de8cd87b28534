"""The WebSocket gateway at /ws: handshake, a receive task beside the send loop, dispatch.

Each frame calls the same services as REST, so every rule and error is shared.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import unicodedata
import uuid
from collections.abc import Awaitable
from typing import Any, cast

from quart import Blueprint, Response, current_app, websocket

from app import metrics
from app.api.errors import envelope
from app.errors import AppError, RateLimited, Unauthorized, field_error, input_error
from app.logs import FrameRequestIds
from app.realtime import routes
from app.realtime.codes import Close
from app.realtime.hub import Connection
from app.realtime.node import Node
from app.services.registry import Services
from app.services.sessions import Principal
from app.services.turns import Turn, Turns
from app.ws import protocol
from app.ws.handlers import HANDLERS, Reply, send_message
from app.ws.reads import ReadCoalescer

log = logging.getLogger(__name__)

bp = Blueprint("ws", __name__)

RATE_LIMIT_STRIKES = 5  # rate-limited frames in a row before the socket is closed
LIMITED_FRAMES = ("message", "edit_message", "delete_message")  # one accepted resets the strikes
# `message` frames in flight at once on one socket (each stores in its turn); the next one
# is read only when one of them has ended, so a flood still meets backpressure.
PIPELINED_SENDS = 16


def _refuse(error: AppError) -> Response:
    """Refuse the handshake with a real HTTP status, the error envelope and Retry-After."""
    return envelope(error)


def _check_device_id(device_id: str) -> None:
    """1 to 64 printable characters: no NUL (PostgreSQL text cannot hold it), no controls."""
    if not 1 <= len(device_id) <= 64:
        raise field_error("device_id", "Must be 1 to 64 characters.")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in device_id):
        raise field_error("device_id", "Must not contain control characters.")


async def _principal(services: Services) -> Principal:
    header = websocket.headers.get("Authorization", "")
    ticket = websocket.args.get("ticket")
    if header.lower().startswith("bearer "):
        principal = await services.sessions.authenticate(header[7:].strip())
    elif ticket:
        principal = await services.sessions.redeem_ticket(ticket)
    else:
        raise Unauthorized("Send a Bearer token or a ticket.")
    await services.sessions.check_session_active(principal)
    return principal


@bp.websocket("/ws")
async def gateway() -> Response | None:
    services: Services = current_app.extensions["services"]
    node: Node = current_app.extensions["node"]
    settings = current_app.extensions["settings"]
    try:
        principal = await _principal(services)
    except AppError as error:
        return _refuse(error)
    device_id = websocket.args.get("device_id") or f"anon-{principal.session_id}"
    try:
        _check_device_id(device_id)
    except AppError as error:
        return _refuse(error)

    # A slot among the user's WS_MAX_PER_USER sockets (every instance counted) is taken
    # before anything is stored, and given back if the handshake goes no further.
    connection_id = routes.connection_id(node.instance_id, uuid.uuid4().hex)  # publishers route by it
    wait = await services.presence.reserve(
        user_id=principal.user_id, connection_id=connection_id, limit=settings.ws_max_per_user
    )
    if wait > 0:
        metrics.RATE_LIMITED.labels(scope="ws_sockets").inc()
        return _refuse(RateLimited(wait, f"At most {settings.ws_max_per_user} sockets per user; close one first."))
    try:
        cursor = await services.devices.open(user_id=principal.user_id, device_id=device_id)
        await websocket.accept()
    except BaseException as exc:
        await asyncio.shield(services.presence.release(user_id=principal.user_id, connection_id=connection_id))
        refusal = exc if isinstance(exc, AppError) else input_error(exc) if isinstance(exc, Exception) else None
        if refusal is None:
            raise
        return _refuse(refusal)
    conn = Connection(
        user_id=principal.user_id,
        session_id=principal.session_id,
        device_id=device_id,
        cursor=cursor,
        queue_size=settings.ws_send_queue_size,
        request_replay=node.request_replay,
    )
    conn.id = connection_id  # the slot reserved above becomes this connection's presence entry
    metrics.WS_CONNECTS.inc()
    conn.send(
        {
            "type": "connected",
            "data": {
                "user_id": principal.user_id,
                "session_id": str(principal.session_id),
                "device_id": device_id,
                "cursor": cursor,
                "inbox_seq": cursor,  # v1 clients read the cursor here
                "heartbeat_interval": settings.heartbeat_interval,
            },
        }
    )
    await node.attach(conn)
    session = _Session(conn, services, node, settings.heartbeat_interval, is_bot=principal.is_bot)
    tasks = [asyncio.create_task(session.send_loop()), asyncio.create_task(session.receive_loop())]
    try:
        await conn.closed.wait()
    except asyncio.CancelledError:  # the client went away: Quart cancels the handler
        conn.close(Close.NORMAL)
        raise
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await session.reads.close()
        metrics.WS_DISCONNECTS.labels(code=str(conn.close_code)).inc()
        await asyncio.shield(node.detach(conn))
        log.info("ws closed", extra={"user_id": conn.user_id, "code": conn.close_code})
        if conn.close_code not in (None, 1000, 1006):
            try:
                await asyncio.wait_for(websocket.close(conn.close_code), 2.0)
            except Exception as exc:
                log.info("ws close failed", extra={"user_id": conn.user_id, "error": repr(exc)})
    return None


class _Session:
    """One connection's loops; each frame goes to its handler in app/ws/handlers.py."""

    def __init__(self, conn: Connection, services: Services, node: Node, heartbeat: float, *, is_bot: bool) -> None:
        self.conn = conn
        self.is_bot = is_bot
        self.services = services
        self.node = node
        self.heartbeat = heartbeat
        self.request_ids = FrameRequestIds()  # frames log as `<connection's request id>.<n>`
        self.reads = ReadCoalescer(
            user_id=conn.user_id, mark=services.receipts.mark_read_coalesced, reply=self.send_when_room
        )
        self.turns = Turns()
        self.sends: set[asyncio.Task[None]] = set()

    async def send_when_room(self, frame: dict[str, Any]) -> None:
        """Queue a reply, waiting while the send queue is nearly full: many replies at once
        (coalesced read_acks) must not overflow a client that is reading them."""
        queue = self.conn.queue
        while queue.qsize() >= queue.maxsize - max(1, queue.maxsize // 4) and not self.conn.closed.is_set():
            await asyncio.sleep(0.01)
        self.conn.send(frame)

    async def send_loop(self) -> None:
        # Sockets that connected together must not all be pinged together: the first ping
        # lands at a random point of the interval, and the rest keep that phase.
        next_ping = time.monotonic() + self.heartbeat * random.uniform(0.1, 1.0)
        try:
            while not self.conn.closed.is_set():
                now = time.monotonic()
                if now - self.conn.last_received > 2 * self.heartbeat:
                    self.conn.close(Close.IDLE)
                    return
                if now >= next_ping:
                    next_ping = now + self.heartbeat
                    text = '{"type":"ping","data":{}}'
                else:
                    try:
                        text = self.conn.queue.get_nowait()  # the busy path arms no timer
                    except asyncio.QueueEmpty:
                        try:
                            # Not asyncio.wait_for: on 3.11 it can swallow the cancel that ends this loop.
                            async with asyncio.timeout(next_ping - now):
                                text = await self.conn.queue.get()
                        except TimeoutError:
                            continue  # the ping is due
                self.conn.write_started = time.monotonic()
                await websocket.send(text)
                self.conn.write_started = None
                if self.conn.queue.empty():
                    self.conn.drained()
        except asyncio.CancelledError:
            raise
        except Exception:
            self.conn.close(Close.ABNORMAL)

    async def receive_loop(self) -> None:
        try:
            while True:
                raw = await websocket.receive()
                self.conn.last_received = time.monotonic()
                await self.handle(raw)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Disconnect or an oversized frame (Hypercorn closed it with 1009 already).
            self.conn.close(Close.ABNORMAL)
        finally:
            for task in self.sends:
                task.cancel()

    async def handle(self, raw: str | bytes) -> None:
        """One frame. A `message` frame runs beside the frames after it (its store waits
        for its turn); every other frame is handled before the next one is read."""
        self.request_ids.next()
        try:
            kind, data, ref = protocol.decode(raw)
        except AppError as error:
            self._refused(error, error.ref if isinstance(error, protocol.FrameError) else None)
            return
        if kind != "message":
            await self._run(kind, HANDLERS[kind](self, data, ref), ref)
            return
        turn = self.turns.take()
        task = asyncio.create_task(self._run(kind, send_message(self, cast(protocol.SendData, data), ref, turn), ref, turn))
        self.sends.add(task)
        task.add_done_callback(self.sends.discard)
        if len(self.sends) >= PIPELINED_SENDS:
            await asyncio.wait(self.sends, return_when=asyncio.FIRST_COMPLETED)

    async def _run(self, kind: str, handling: Awaitable[Reply], ref: str | None, turn: Turn | None = None) -> None:
        try:
            reply = await handling
            if kind in LIMITED_FRAMES:
                self.conn.rate_limit_strikes = 0
            if reply is not None:
                if ref is not None:
                    reply["ref"] = ref
                self.conn.send(reply)
        except AppError as error:
            self._refused(error, ref)
        except Exception as exc:
            bad = input_error(exc)  # a value PostgreSQL refused: the client's, not ours
            if bad is None:
                log.exception("ws frame failed", extra={"user_id": self.conn.user_id})
            self.conn.send(protocol.error_frame(bad or AppError(), ref))
        finally:
            if turn is not None:
                turn.end()  # also when the frame never reached its store

    def _refused(self, error: AppError, ref: str | None) -> None:
        self.conn.send(protocol.error_frame(error, ref))
        if isinstance(error, RateLimited):
            self.conn.rate_limit_strikes += 1
            if self.conn.rate_limit_strikes >= RATE_LIMIT_STRIKES:
                self.conn.close(Close.ABUSE)
