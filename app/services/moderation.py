"""Moderating a group: bans and admins' mutes. A group's owner or admin acts on members of a
lower role only (the owner on anyone else, an admin on plain members), never on themselves;
every change reaches the members as `chat_updated`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import Row, transaction
from app.errors import Forbidden, NotFound, field_error
from app.ids import possible_id
from app.jsonutil import iso
from app.services.chats import (
    ChatService,
    check_text,
    drop_member,
    outranks,
    record_chat_updated,
    require_manager,
    require_member,
)
from app.services.dispatch import Dispatcher
from app.services.pages import Page, encode_cursor, read_cursor, seq_field
from app.storage import bans as ban_store
from app.storage import chats as chat_store


class ModerationService:
    def __init__(self, chats: ChatService, dispatcher: Dispatcher) -> None:
        self._chats = chats
        self._dispatcher = dispatcher

    async def ban(
        self, *, user_id: int, chat_id: int, target_id: int, until: datetime | None, reason: str | None
    ) -> dict[str, Any]:
        """Remove the target if a member (as a removal is announced) and refuse adding them
        again until `until` (forever when None). Banning anew replaces the ban."""
        check_text("reason", reason)
        async with transaction() as conn:
            await chat_store.lock_chat(chat_id, conn)
            target = await _manageable(chat_id, user_id, target_id, conn, what="ban members", may_be_absent=True)
            await ban_store.ban(chat_id, target_id, until=until, reason=reason, by=user_id, conn=conn)
            if target is not None:
                await drop_member(chat_id, target_id, conn)
            else:
                await record_chat_updated(chat_id, conn)
        await self._dispatcher.after_commit()
        return await self._chats.get(user_id=user_id, chat_id=chat_id)

    async def unban(self, *, user_id: int, chat_id: int, target_id: int) -> None:
        """Lift a ban; idempotent (no ban in force: nothing changes, nothing is announced)."""
        async with transaction() as conn:
            member = await require_member(chat_id, user_id, conn)
            _require_group_manager(member, "lift bans")
            if not possible_id(target_id):
                raise NotFound("No such user.")
            lifted = await ban_store.unban(chat_id, target_id, conn)
            if lifted:
                await record_chat_updated(chat_id, conn)
        if lifted:
            await self._dispatcher.after_commit()

    async def bans(self, *, user_id: int, chat_id: int, cursor: str | None, limit: int) -> Page:
        """The bans in force, by user id; the group's owner and admins only."""
        member = await require_member(chat_id, user_id)
        _require_group_manager(member, "see its bans")
        position = read_cursor(cursor, {"u": seq_field})
        rows = await ban_store.bans(chat_id, after_user_id=position["u"] if position else None, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(
            items=[_ban_body(row) for row in rows],
            next_cursor=encode_cursor({"u": rows[-1]["user_id"]}) if more else None,
        )

    async def mute(self, *, user_id: int, chat_id: int, target_id: int, until: datetime) -> dict[str, Any]:
        """The member reads but cannot send, edit or react until `until`; a time already past
        lifts the mute."""
        blocked = until if until > datetime.now(UTC) else None
        async with transaction() as conn:
            await chat_store.lock_chat(chat_id, conn)
            target = await _manageable(chat_id, user_id, target_id, conn, what="mute members")
            assert target is not None
            if target["send_blocked_until"] != blocked:
                await ban_store.set_send_blocked(chat_id, target_id, blocked, conn)
                await record_chat_updated(chat_id, conn)
        await self._dispatcher.after_commit()
        return await self._chats.get(user_id=user_id, chat_id=chat_id)


def _require_group_manager(member: Row, what: str) -> None:
    if member["type"] != "group":
        raise field_error("chat_id", "Bans and mutes are for groups.")
    require_manager(member, what)


async def _manageable(
    chat_id: int, user_id: int, target_id: int, conn: BaseDBAsyncClient, *, what: str, may_be_absent: bool = False
) -> Row | None:
    """The target's membership (None: not a member, when may_be_absent), after checking that
    the caller manages the group and outranks the target."""
    member = await require_member(chat_id, user_id, conn)
    _require_group_manager(member, what)
    if target_id == user_id:
        raise Forbidden("You cannot do this to yourself.")
    target = await chat_store.membership(chat_id, target_id, conn=conn)
    if target is None:
        if not may_be_absent:
            raise NotFound("No such member.")
        if not await chat_store.existing_user_ids([target_id]):
            raise NotFound("No such user.")
        return None
    if not outranks(member["role"], target["role"]):
        raise Forbidden("Only a higher role can do this to this member.")
    return target


def _ban_body(row: Row) -> dict[str, Any]:
    return {"user_id": row["user_id"], "until": iso(row["until"]), "reason": row["reason"], "by": row["by_id"]}
