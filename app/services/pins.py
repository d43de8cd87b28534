"""Pinned messages: any member of a direct chat, a group's owner or admins, pin and unpin;
members see the pins most recent first. Every change is a `chat_updated`."""

from __future__ import annotations

from typing import Any

from app.db import transaction
from app.errors import Conflict
from app.services.chats import hidden, record_chat_updated, require_manager, require_member
from app.services.dispatch import Dispatcher
from app.services.pages import Page, encode_cursor, read_cursor, seq_field, time_field
from app.services.views import message_body
from app.storage import messages as message_store


class PinService:
    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher

    async def set_pinned(self, *, user_id: int, chat_id: int, message_id: int, pinned: bool) -> dict[str, Any]:
        """Idempotent: pinning a pinned message (or unpinning an unpinned one) changes and
        announces nothing. A message of another chat is 404 as one that does not exist."""
        async with transaction() as conn:
            member = await require_member(chat_id, user_id, conn)
            if member["type"] == "group":
                require_manager(member, "pin messages")
            row = await message_store.lock_message(message_id, conn)
            if row is None or row["chat_id"] != chat_id:
                raise hidden()
            changed = (row["pinned_at"] is not None) != pinned
            if changed:
                if pinned and row["is_deleted"]:
                    raise Conflict("A deleted message cannot be pinned.")
                row = await message_store.set_pinned(message_id, pinned, conn)
                await record_chat_updated(chat_id, conn)
        if changed:
            await self._dispatcher.after_commit()
        return message_body(row, user_id)

    async def page(self, *, user_id: int, chat_id: int, cursor: str | None, limit: int) -> Page:
        floor = int((await require_member(chat_id, user_id))["visible_after_seq"])  # hidden history
        after = read_cursor(cursor, {"t": time_field, "id": seq_field})
        before = (after["t"], after["id"]) if after else None
        rows = await message_store.pins(chat_id=chat_id, before=before, limit=limit + 1, floor=floor)
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor({"t": rows[-1]["pinned_at"].isoformat(), "id": rows[-1]["id"]}) if more else None
        return Page(items=[message_body(row, user_id, hidden_before=floor) for row in rows], next_cursor=next_cursor)
