"""What each client frame does: one handler per frame type of `protocol.FRAME_DATA`.

A handler gets the connection's session, the frame's validated data model and its ref, calls
services (never storage), and returns the reply frame, or None when there is none (the
endpoint adds the ref to a reply and turns an AppError into an error frame).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from app.realtime.hub import Connection
from app.realtime.node import Node
from app.services.registry import Services
from app.services.turns import Turn
from app.ws import protocol
from app.ws.reads import ReadCoalescer

Reply = dict[str, Any] | None


class Session(Protocol):
    """What a handler may use of its connection (app/ws/endpoint.py's `_Session`)."""

    conn: Connection
    is_bot: bool  # the token's: bots have their own send limit
    services: Services
    node: Node
    reads: ReadCoalescer


async def send_message(session: Session, data: protocol.SendData, ref: str | None, turn: Turn | None = None) -> Reply:
    """`turn`: where the endpoint pipelines this socket's sends (app/services/turns.py)."""
    if data.send_at is not None and data.send_at > datetime.now(UTC):
        scheduled, _ = await session.services.scheduled.create(
            author_id=session.conn.user_id, draft=data, send_at=data.send_at, is_bot=session.is_bot
        )
        return {"type": "message_ack", "data": {"scheduled": scheduled}}
    message, _ = await session.services.messages.send(
        sender_id=session.conn.user_id, draft=data, transport="ws", is_bot=session.is_bot, turn=turn
    )
    return {"type": "message_ack", "data": {"message": message}}


async def edit_message(session: Session, data: protocol.EditData, ref: str | None) -> Reply:
    message = await session.services.messages.edit(
        user_id=session.conn.user_id, message_id=data.message_id, content=data.content, is_bot=session.is_bot
    )
    return {"type": "message_ack", "data": {"message": message}}


async def delete_message(session: Session, data: protocol.DeleteData, ref: str | None) -> Reply:
    message = await session.services.messages.delete(
        user_id=session.conn.user_id, message_id=data.message_id, is_bot=session.is_bot
    )
    return {"type": "message_ack", "data": {"message": message}}


async def read(session: Session, data: protocol.ReadData, ref: str | None) -> Reply:
    # Coalesced: the read_ack (or error) follows once this frame's chat is written.
    session.reads.submit(chat_id=data.chat_id, up_to_seq=data.up_to_seq, message_ids=data.message_ids, ref=ref)
    return None


async def typing(session: Session, data: protocol.TypingData, ref: str | None) -> Reply:
    # Redis first: past the first frame each second per (user, chat), from any socket
    # on any instance, a typing frame costs neither PostgreSQL nor other users anything.
    user_id = session.conn.user_id
    if await session.services.presence.typing_allowed(user_id=user_id, chat_id=data.chat_id):
        others = await session.services.chats.typing_audience(user_id=user_id, chat_id=data.chat_id)
        await session.node.publish_ephemeral(
            others, {"type": "typing", "data": {"chat_id": data.chat_id, "user_id": user_id}}
        )
    return None


async def ack(session: Session, data: protocol.AckData, ref: str | None) -> Reply:
    if session.conn.ack(data.inbox_seq):
        session.node.note_ack(session.conn)
    return None


async def sync(session: Session, data: protocol.SyncData, ref: str | None) -> Reply:
    session.conn.restart_from(data.since_inbox_seq)
    return None


async def pong(session: Session, data: protocol.EmptyData, ref: str | None) -> Reply:
    return None  # receiving it already refreshed the heartbeat


Handler = Callable[[Session, Any, str | None], Awaitable[Reply]]

# Keyed exactly like protocol.FRAME_DATA; each handler takes that type's data model.
HANDLERS: dict[str, Handler] = {
    "message": send_message,
    "edit_message": edit_message,
    "delete_message": delete_message,
    "read": read,
    "typing": typing,
    "ack": ack,
    "sync": sync,
    "pong": pong,
}
