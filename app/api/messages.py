from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from quart_schema import tag

from app.api.responses import Message, MessagePage, ReadState, Receipt, Scheduled
from app.api.schemas import EditIn, HistoryQuery, ReadIn, SendIn
from app.api.validation import authenticated_blueprint, body, principal, query, responds, services

bp = authenticated_blueprint("messages", "/messages")


@bp.post("")
@tag(["messages"])
@responds(Message, 201, 200, errors=(403, 404, 422, 429), also={202: Scheduled})
@body(SendIn)
async def send(data: SendIn) -> tuple[dict[str, Any], int]:
    """201 with the stored message (200: the same client_msg_id again). With a future
    `send_at`: 202 with the Scheduled message, sent then (GET /scheduled)."""
    if data.send_at is not None and data.send_at > datetime.now(UTC):
        scheduled, _ = await services().scheduled.create(
            author_id=principal().user_id, draft=data, send_at=data.send_at, is_bot=principal().is_bot
        )
        return scheduled, 202  # a repeat of its client_msg_id answers the first, as 202 too
    message, created = await services().messages.send(
        sender_id=principal().user_id, draft=data, transport="rest", is_bot=principal().is_bot
    )
    return message, 201 if created else 200


@bp.get("")
@tag(["messages"])
@responds(MessagePage, errors=(404,))
@query(HistoryQuery)
async def history(query_args: HistoryQuery) -> dict[str, Any]:
    page = await services().messages.history(
        user_id=principal().user_id,
        chat_id=query_args.chat_id,
        before_seq=query_args.before_seq,
        after_seq=query_args.after_seq,
        cursor=query_args.cursor,
        limit=query_args.limit,
    )
    return page.body()


@bp.patch("/<int(signed=True):message_id>")
@bp.patch("/<int(signed=True):message_id>/edit")  # the v1 path, an alias (contract v1.1)
@tag(["messages"])
@responds(Message, errors=(403, 404, 409, 429))
@body(EditIn)
async def edit(message_id: int, data: EditIn) -> dict[str, Any]:
    return await services().messages.edit(
        user_id=principal().user_id, message_id=message_id, content=data.content, is_bot=principal().is_bot
    )


@bp.delete("/<int(signed=True):message_id>")
@bp.delete("/<int(signed=True):message_id>/delete")  # the v1 path, an alias (contract v1.1)
@tag(["messages"])
@responds(Message, errors=(403, 404, 429))
async def delete(message_id: int) -> dict[str, Any]:
    return await services().messages.delete(user_id=principal().user_id, message_id=message_id, is_bot=principal().is_bot)


@bp.post("/read")
@tag(["messages"])
@responds(ReadState, errors=(404,))
@body(ReadIn)
async def read(data: ReadIn) -> dict[str, Any]:
    return await services().receipts.mark_read(
        user_id=principal().user_id, chat_id=data.chat_id, up_to_seq=data.up_to_seq
    )


@bp.get("/<int(signed=True):message_id>/receipts")
@tag(["messages"])
@responds(list[Receipt], errors=(404,))
async def receipts(message_id: int) -> list[dict[str, Any]]:
    return await services().receipts.receipts(user_id=principal().user_id, message_id=message_id)


@bp.put("/<int(signed=True):message_id>/reactions/<emoji>")
@tag(["messages"])
@responds(Message, errors=(404, 409, 429))
async def add_reaction(message_id: int, emoji: str) -> dict[str, Any]:
    return await services().reactions.react(
        user_id=principal().user_id, message_id=message_id, emoji=emoji, add=True, is_bot=principal().is_bot
    )


@bp.delete("/<int(signed=True):message_id>/reactions/<emoji>")
@tag(["messages"])
@responds(Message, errors=(404, 429))
async def remove_reaction(message_id: int, emoji: str) -> dict[str, Any]:
    return await services().reactions.react(
        user_id=principal().user_id, message_id=message_id, emoji=emoji, add=False, is_bot=principal().is_bot
    )
