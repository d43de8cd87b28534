"""Reactions: one emoji per (member, message, emoji), aggregated on the message."""

from __future__ import annotations

from typing import Any

import emoji as unicode_emoji

from app.db import transaction
from app.errors import Conflict, field_error
from app.jsonutil import loads
from app.services.chats import hidden, require_member, require_unmuted
from app.services.dispatch import Dispatcher
from app.services.ratelimit import SendLimits
from app.services.views import message_body
from app.storage import messages as message_store
from app.storage import outbox

MAX_EMOJI_BYTES = 32
MAX_DISTINCT = 20


def check_emoji(value: str) -> None:
    """One emoji as Unicode's emoji data knows it (sequences, skin tones and ZWJ families
    included), at most 32 bytes of UTF-8."""
    if len(value.encode()) > MAX_EMOJI_BYTES or not unicode_emoji.is_emoji(value):
        raise field_error("emoji", "Must be exactly one emoji.")


class ReactionService:
    def __init__(self, send_limiter: SendLimits, dispatcher: Dispatcher) -> None:
        self._limiter = send_limiter
        self._dispatcher = dispatcher

    async def react(self, *, user_id: int, message_id: int, emoji: str, add: bool, is_bot: bool = False) -> dict[str, Any]:
        """Add or remove the caller's reaction; idempotent (no change, no event). Members only:
        anyone else gets the same 404 as for a message that does not exist."""
        check_emoji(emoji)
        await self._limiter.enforce(user_id, bot=is_bot, message="Too many changes; retry later.")
        async with transaction() as conn:
            row = await message_store.lock_message(message_id, conn)
            if row is None:
                raise hidden()
            require_unmuted(await require_member(row["chat_id"], user_id, conn))
            reactions = _changed(_stored(row), user_id, emoji, add)
            if reactions is not None:
                if row["is_deleted"]:
                    raise Conflict("A deleted message takes no reactions.")
                row = await message_store.set_reactions(message_id, reactions, conn)
                await outbox.record(type="reactions", chat_id=row["chat_id"], payload={"message_id": message_id}, conn=conn)
        if reactions is not None:
            await self._dispatcher.after_commit(row["chat_id"])
        return message_body(row, user_id)


def _stored(row: dict[str, Any]) -> list[dict[str, Any]]:
    value = row["reactions"]
    return list(loads(value) if isinstance(value, (str, bytes)) else value)


def _changed(reactions: list[dict[str, Any]], user_id: int, emoji: str, add: bool) -> list[dict[str, Any]] | None:
    """The new list, or None when nothing changes. Order is first-reacted: a new emoji goes
    last, and an emoji nobody holds any more leaves the list."""
    entry = next((r for r in reactions if r["emoji"] == emoji), None)
    if add:
        if entry is not None and user_id in entry["user_ids"]:
            return None
        if entry is None:
            if len(reactions) >= MAX_DISTINCT:
                raise Conflict(f"A message has at most {MAX_DISTINCT} different reactions.")
            return [*reactions, {"emoji": emoji, "user_ids": [user_id]}]
        return [{**r, "user_ids": [*r["user_ids"], user_id]} if r is entry else r for r in reactions]
    if entry is None or user_id not in entry["user_ids"]:
        return None
    rest = [u for u in entry["user_ids"] if u != user_id]
    return [r if r is not entry else {**r, "user_ids": rest} for r in reactions if r is not entry or rest]
