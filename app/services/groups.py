"""Running a group: its title, its admins and its owner. Every change is a `chat_updated`."""

from __future__ import annotations

from typing import Any

from app.db import transaction
from app.errors import Forbidden, NotFound
from app.services.chats import ChatService, check_text, record_chat_updated, require_manager, require_member
from app.services.dispatch import Dispatcher
from app.storage import chats as chat_store


class GroupService:
    def __init__(self, chats: ChatService, dispatcher: Dispatcher) -> None:
        self._chats = chats
        self._dispatcher = dispatcher

    async def update(self, *, user_id: int, chat_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Title, history_visible and slow_mode: a group's owner or admins. message_ttl: also
        any member of a direct chat. A null title is refused; the others null means off."""
        if "title" in changes:
            check_text("title", changes["title"])
        if changes.get("history_visible") is None:
            changes.pop("history_visible", None)
        async with transaction() as conn:
            member = await require_member(chat_id, user_id, conn)
            group_only = [name for name in ("title", "history_visible", "slow_mode") if name in changes]
            if group_only:
                require_manager(member, "change its settings")  # a direct chat has none of these
            if "message_ttl" in changes and member["type"] == "group":
                require_manager(member, "set its message timer")
            await chat_store.update_chat(chat_id, changes, conn)
            await record_chat_updated(chat_id, conn)
        await self._dispatcher.after_commit()
        return await self._chats.get(user_id=user_id, chat_id=chat_id)

    async def set_role(self, *, user_id: int, chat_id: int, member_id: int, role: str) -> dict[str, Any]:
        """Grant or revoke admin; the owner only. The owner's own role changes only by handing
        ownership over."""
        async with transaction() as conn:
            await chat_store.lock_chat(chat_id, conn)
            target = await self._owner_and_target(chat_id, user_id, member_id, conn)
            if target["role"] != role:
                await chat_store.set_role(chat_id, member_id, role, conn)
                await record_chat_updated(chat_id, conn)
        await self._dispatcher.after_commit()
        return await self._chats.get(user_id=user_id, chat_id=chat_id)

    async def transfer_owner(self, *, user_id: int, chat_id: int, member_id: int) -> dict[str, Any]:
        """The owner hands the group to another member and becomes an admin."""
        async with transaction() as conn:
            await chat_store.lock_chat(chat_id, conn)
            await self._owner_and_target(chat_id, user_id, member_id, conn)
            await chat_store.set_role(chat_id, user_id, "admin", conn)
            await chat_store.set_role(chat_id, member_id, "owner", conn)
            await record_chat_updated(chat_id, conn)
        await self._dispatcher.after_commit()
        return await self._chats.get(user_id=user_id, chat_id=chat_id)

    @staticmethod
    async def _owner_and_target(chat_id: int, user_id: int, member_id: int, conn: Any) -> dict[str, Any]:
        """The target's membership, after checking that the caller owns the group and the
        target is another member of it."""
        member = await require_member(chat_id, user_id, conn)
        if member["type"] != "group" or member["role"] != "owner":
            raise Forbidden("Only the group's owner can change roles and ownership.")
        if member_id == user_id:
            raise Forbidden("The owner's role changes only by handing ownership to another member.")
        target = await chat_store.membership(chat_id, member_id, conn=conn)
        if target is None:
            raise NotFound("No such member.")
        return target
