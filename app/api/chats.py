from __future__ import annotations

from typing import Any

from quart_schema import tag

from app.api.responses import Chat, ChatPage, Message, MessagePage
from app.api.schemas import AddMembersIn, ChatChangeIn, ChatSettingsIn, CreateChatIn, OwnerIn, PageQuery, RoleIn
from app.api.validation import authenticated_blueprint, body, principal, query, responds, services
from app.errors import field_error

bp = authenticated_blueprint("chats", "/chats")


@bp.post("")
@tag(["chats"])
@responds(Chat, 201, 200, errors=(403, 404, 429))
@body(CreateChatIn)
async def create(data: CreateChatIn) -> tuple[dict[str, Any], int]:
    if data.type == "direct":
        if len(data.member_ids) != 1:
            raise field_error("member_ids", "A direct chat names exactly one other user.")
        chat, created = await services().chats.create_direct(user_id=principal().user_id, other_id=data.member_ids[0])
        return chat, 201 if created else 200
    if not data.title:
        raise field_error("title", "A group needs a title.")
    chat = await services().chats.create_group(
        user_id=principal().user_id, title=data.title, member_ids=data.member_ids
    )
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
    return await services().chats.add_members(user_id=principal().user_id, chat_id=chat_id, user_ids=data.user_ids)


@bp.delete("/<int(signed=True):chat_id>/members/<int(signed=True):user_id>")
@tag(["chats"])
@responds(None, 204, errors=(403, 404))
async def remove_member(chat_id: int, user_id: int) -> tuple[str, int]:
    await services().chats.remove_member(user_id=principal().user_id, chat_id=chat_id, member_id=user_id)
    return "", 204


@bp.patch("/<int(signed=True):chat_id>")
@tag(["chats"])
@responds(Chat, errors=(403, 404))
@body(ChatChangeIn)
async def update_chat(chat_id: int, data: ChatChangeIn) -> dict[str, Any]:
    """Change the chat's title, `message_ttl` (later messages only), `history_visible` or
    `slow_mode`; every member gets `chat_updated`."""
    return await services().groups.update(user_id=principal().user_id, chat_id=chat_id, changes=data.changes())


@bp.put("/<int(signed=True):chat_id>/members/<int(signed=True):user_id>/role")
@tag(["chats"])
@responds(Chat, errors=(403, 404))
@body(RoleIn)
async def set_role(chat_id: int, user_id: int, data: RoleIn) -> dict[str, Any]:
    return await services().groups.set_role(
        user_id=principal().user_id, chat_id=chat_id, member_id=user_id, role=data.role
    )


@bp.post("/<int(signed=True):chat_id>/owner")
@tag(["chats"])
@responds(Chat, errors=(403, 404))
@body(OwnerIn)
async def transfer_owner(chat_id: int, data: OwnerIn) -> dict[str, Any]:
    return await services().groups.transfer_owner(user_id=principal().user_id, chat_id=chat_id, member_id=data.user_id)


@bp.put("/<int(signed=True):chat_id>/settings")
@tag(["chats"])
@responds(Chat, errors=(404,))
@body(ChatSettingsIn)
async def settings(chat_id: int, data: ChatSettingsIn) -> dict[str, Any]:
    return await services().chats.update_settings(user_id=principal().user_id, chat_id=chat_id, changes=data.changes())


@bp.get("/<int(signed=True):chat_id>/pins")
@tag(["chats"])
@responds(MessagePage, errors=(404,))
@query(PageQuery)
async def pins(chat_id: int, query_args: PageQuery) -> dict[str, Any]:
    page = await services().pins.page(
        user_id=principal().user_id, chat_id=chat_id, cursor=query_args.cursor, limit=query_args.limit
    )
    return page.body()


@bp.put("/<int(signed=True):chat_id>/pins/<int(signed=True):message_id>")
@tag(["chats"])
@responds(Message, errors=(403, 404, 409))
async def pin(chat_id: int, message_id: int) -> dict[str, Any]:
    return await services().pins.set_pinned(user_id=principal().user_id, chat_id=chat_id, message_id=message_id, pinned=True)


@bp.delete("/<int(signed=True):chat_id>/pins/<int(signed=True):message_id>")
@tag(["chats"])
@responds(Message, errors=(403, 404))
async def unpin(chat_id: int, message_id: int) -> dict[str, Any]:
    return await services().pins.set_pinned(user_id=principal().user_id, chat_id=chat_id, message_id=message_id, pinned=False)
