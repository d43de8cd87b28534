from __future__ import annotations

from typing import Any

from quart import Blueprint, current_app
from quart_schema import tag

from app.api.responses import Chat, ChatPage
from app.api.schemas import AddMembersIn, CreateChatIn, PageQuery
from app.api.validation import authenticate, body, principal, query, responds, services
from app.errors import field_error
from app.realtime import keys
from app.services.ratelimit import SlidingWindowLimiter

bp = Blueprint("chats", __name__, url_prefix="/chats")
bp.before_request(authenticate)

CHAT_RATE_WINDOW = 60.0  # CHAT_RATE_LIMIT counts per minute


async def _limit_chat_changes() -> None:
    """Groups created and member additions share one per-user limit (CHAT_RATE_LIMIT per
    minute, every instance together): each puts people into chats and sends them events."""
    limiter = current_app.extensions.get("chat_limiter")
    if limiter is None:
        settings = current_app.extensions["settings"]
        limiter = SlidingWindowLimiter(
            current_app.extensions["redis"], limit=settings.chat_rate_limit, window_seconds=CHAT_RATE_WINDOW
        )
        current_app.extensions["chat_limiter"] = limiter
    await limiter.enforce(
        keys.CHAT_RATE.format(user_id=principal().user_id), scope="chat", message="Changing chats too fast; retry later."
    )


@bp.post("")
@tag(["chats"])
@responds(Chat, 201, 200, errors=(404, 429))
@body(CreateChatIn)
async def create(data: CreateChatIn) -> tuple[dict[str, Any], int]:
    if data.type == "direct":
        if len(data.member_ids) != 1:
            raise field_error("member_ids", "A direct chat names exactly one other user.")
        chat, created = await services().chats.create_direct(user_id=principal().user_id, other_id=data.member_ids[0])
        return chat, 201 if created else 200
    if not data.title:
        raise field_error("title", "A group needs a title.")
    await _limit_chat_changes()
    chat = await services().chats.create_group(user_id=principal().user_id, title=data.title, member_ids=data.member_ids)
    return chat, 201


@bp.get("")
@tag(["chats"])
@responds(ChatPage)
@query(PageQuery)
async def list_chats(query_args: PageQuery) -> dict[str, Any]:
    page = await services().chats.page(user_id=principal().user_id, cursor=query_args.cursor, limit=query_args.limit)
    return page.body()


@bp.get("/<int(signed=True):chat_id>")
@tag(["chats"])
@responds(Chat, errors=(404,))
async def get_chat(chat_id: int) -> dict[str, Any]:
    return await services().chats.get(user_id=principal().user_id, chat_id=chat_id)


@bp.post("/<int(signed=True):chat_id>/members")
@tag(["chats"])
@responds(Chat, errors=(403, 404, 429))
@body(AddMembersIn)
async def add_members(chat_id: int, data: AddMembersIn) -> dict[str, Any]:
    await _limit_chat_changes()
    return await services().chats.add_members(user_id=principal().user_id, chat_id=chat_id, user_ids=data.user_ids)


@bp.delete("/<int(signed=True):chat_id>/members/<int(signed=True):user_id>")
@tag(["chats"])
@responds(None, 204, errors=(403, 404))
async def remove_member(chat_id: int, user_id: int) -> tuple[str, int]:
    await services().chats.remove_member(user_id=principal().user_id, chat_id=chat_id, member_id=user_id)
    return "", 204
