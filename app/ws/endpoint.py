"""The WebSocket gateway at /ws: handshake, a receive task beside the send loop, dispatch.

Each frame calls the same services as REST, so every rule and error is shared.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

from pydantic import BaseModel
from quart import Blueprint, Response, current_app, websocket

from app import metrics
from app.logs import FrameRequestIds
from app.errors import AppError, RateLimited, Unauthorized, ValidationFailed
from app.jsonutil import dumps
from app.realtime.hub import Connection
from app.realtime.node import Node
from app.services.auth import Principal
from app.services.chats import require_member
from app.services.registry import Services
from app.storage import chats as chat_store
from app.storage import inbox as inbox_store
from app.ws import protocol

log = logging.getLogger(__name__)

bp = Blueprint("ws", __name__)

CLOSE_GOING_AWAY = 1001
CLOSE_IDLE = 4408
CLOSE_ABUSE = 4429
RATE_LIMIT_STRIKES = 5  # rate-limited sends in a row before the socket is closed
TYPING_MIN_INTERVAL = 1.0


def _refuse(error: AppError) -> Response:
    return Response(dumps(error.body()), status=error.status, content_type="application/json")


async def _principal(services: Services) -> Principal:
    header = websocket.headers.get("Authorization", "")
    ticket = websocket.args.get("ticket")
    if header.lower().startswith("bearer "):
        principal = await services.auth.authenticate(header[7:].strip())
    elif ticket:
        principal = await services.auth.redeem_ticket(ticket)
    else:
        raise Unauthorized("Send a Bearer token or a ticket.")
    await services.auth.check_session_active(principal)
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
    if not 1 <= len(device_id) <= 64:
        return _refuse(ValidationFailed("device_id must be 1 to 64 characters."))

    cursor = await inbox_store.open_device(principal.user_id, device_id)
    await websocket.accept()
    conn = Connection(
        user_id=principal.user_id,
        session_id=principal.session_id,
        device_id=device_id,
        cursor=cursor,
        queue_size=settings.ws_send_queue_size,
        request_replay=node.request_replay,
    )
    metrics.WS_CONNECTS.inc()
    conn.send(
        {
            "type": "connected",
            "data": {
                "user_id": principal.user_id,
                "session_id": str(principal.session_id),
                "device_id": device_id,
                "inbox_seq": cursor,
                "heartbeat_interval": settings.heartbeat_interval,
            },
        }
    )
    await node.attach(conn)
    session = _Session(conn, services, node, settings.heartbeat_interval)
    tasks = [asyncio.create_task(session.send_loop()), asyncio.create_task(session.receive_loop())]
    try:
        await conn.closed.wait()
    except asyncio.CancelledError:  # the client went away: Quart cancels the handler
        conn.close(1000)
        raise
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
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
    """One connection's loops and frame dispatch."""

    def __init__(self, conn: Connection, services: Services, node: Node, heartbeat: float) -> None:
        self.conn = conn
        self.services = services
        self.node = node
        self.heartbeat = heartbeat
        self.last_typing = 0.0
        self.request_ids = FrameRequestIds()  # frames log as `<connection's request id>.<n>`

    async def send_loop(self) -> None:
        # Sockets that connected together must not all be pinged together: the first ping
        # lands at a random point of the interval, and the rest keep that phase.
        next_ping = time.monotonic() + self.heartbeat * random.uniform(0.1, 1.0)
        try:
            while not self.conn.closed.is_set():
                now = time.monotonic()
                if now - self.conn.last_received > 2 * self.heartbeat:
                    self.conn.close(CLOSE_IDLE)
                    return
                try:
                    # Not asyncio.wait_for: on 3.11 it can swallow the cancel that ends this loop.
                    async with asyncio.timeout(max(0.01, next_ping - now)):
                        text = await self.conn.queue.get()
                except TimeoutError:
                    next_ping = time.monotonic() + self.heartbeat
                    text = '{"type":"ping","data":{}}'
                self.conn.write_started = time.monotonic()
                await websocket.send(text)
                self.conn.write_started = None
                if self.conn.queue.empty():
                    self.conn.drained()
        except asyncio.CancelledError:
            raise
        except Exception:
            self.conn.close(1006)

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
            self.conn.close(1006)

    async def handle(self, raw: str | bytes) -> None:
        self.request_ids.next()
        ref: str | None = None
        try:
            kind, data, ref = protocol.decode(raw)
            reply = await self.dispatch(kind, data)
            self.conn.rate_limit_strikes = 0 if kind == "message" else self.conn.rate_limit_strikes
            if reply is not None:
                if ref is not None:
                    reply["ref"] = ref
                self.conn.send(reply)
        except AppError as error:
            ref = ref if ref is not None else getattr(error, "ref", None)
            frame: dict[str, Any] = {"type": "error", "data": {"code": error.code, "message": error.message}}
            if error.details is not None:
                frame["data"]["details"] = error.details
            if ref is not None:
                frame["ref"] = ref
            self.conn.send(frame)
            if isinstance(error, RateLimited):
                self.conn.rate_limit_strikes += 1
                if self.conn.rate_limit_strikes >= RATE_LIMIT_STRIKES:
                    self.conn.close(CLOSE_ABUSE)
        except Exception:
            log.exception("ws frame failed", extra={"user_id": self.conn.user_id})
            frame = {"type": "error", "data": {"code": "internal", "message": "Something went wrong on our side."}}
            if ref is not None:
                frame["ref"] = ref
            self.conn.send(frame)

    async def dispatch(self, kind: str, data: BaseModel) -> dict[str, Any] | None:
        user_id = self.conn.user_id
        if isinstance(data, protocol.SendData):
            message, _ = await self.services.messages.send(
                sender_id=user_id,
                chat_id=data.chat_id,
                content=data.content,
                client_msg_id=data.client_msg_id,
                transport="ws",
            )
            return {"type": "message_ack", "data": {"message": message}}
        if isinstance(data, protocol.EditData):
            message = await self.services.messages.edit(user_id=user_id, message_id=data.message_id, content=data.content)
            return {"type": "message_ack", "data": {"message": message}}
        if isinstance(data, protocol.DeleteData):
            message = await self.services.messages.delete(user_id=user_id, message_id=data.message_id)
            return {"type": "message_ack", "data": {"message": message}}
        if isinstance(data, protocol.ReadData):
            # The contract has no reply frame for `read`: success is silent, errors answer.
            if data.message_ids is not None:
                await self.services.receipts.mark_read_messages(
                    user_id=user_id, chat_id=data.chat_id, message_ids=data.message_ids
                )
            else:
                assert data.up_to_seq is not None
                await self.services.receipts.mark_read(user_id=user_id, chat_id=data.chat_id, up_to_seq=data.up_to_seq)
            return None
        if isinstance(data, protocol.TypingData):
            await require_member(data.chat_id, user_id)
            now = time.monotonic()
            if now - self.last_typing >= TYPING_MIN_INTERVAL:
                self.last_typing = now
                others = [m for m in await chat_store.member_ids(data.chat_id) if m != user_id]
                await self.node.publish_ephemeral(
                    others, {"type": "typing", "data": {"chat_id": data.chat_id, "user_id": user_id}}
                )
            return None
        if isinstance(data, protocol.AckData):
            if self.conn.ack(data.inbox_seq):
                self.node.note_ack(self.conn)
            return None
        if isinstance(data, protocol.SyncData):
            self.conn.restart_from(data.since_inbox_seq)
            return None
        return None  # pong: receiving it already refreshed the heartbeat
