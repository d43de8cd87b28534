"""Profiles, their changes and name search. Public profiles never include the email, and show
`online` / `last_seen_at` only to the user and to users who share a chat with them (the
audience of their presence events); to anyone else both are null. An erased account stays
visible by id as `{deleted: true, username: null, display_name: "Deleted account"}`."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from app.db import transaction
from app.errors import NotFound, field_error
from app.ids import possible_id
from app.media.inspect import INLINE_TYPES
from app.realtime.node import publish_ephemeral
from app.services.pages import Page, encode_cursor, read_cursor, seq_field, text_field
from app.services.presence import PresenceService
from app.services.views import public_profile, public_user
from app.storage import attachments as attachment_store
from app.storage import blocks as block_store
from app.storage import users as user_store

DISPLAY_NAME_MAX = 64


class UserService:
    def __init__(self, presence: PresenceService, redis: Redis) -> None:
        self._presence = presence
        self._redis = redis

    async def me(self, *, user_id: int) -> dict[str, Any]:
        row = await user_store.get_account(user_id)
        if row is None:
            raise NotFound("No such user.")
        return public_user(row)

    async def update_profile(self, *, user_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Change `display_name` (trimmed, 1 to 64 characters; null: back to the username) and
        `avatar_attachment_id` (an image the caller uploaded that no message carries; null:
        none). Only the keys present change. Once committed, the user's contacts (everyone
        sharing a chat) and the user's own sockets get `user_updated` {user: UserPublic}."""
        update: dict[str, Any] = {}
        if "display_name" in changes:
            name = changes["display_name"]
            if name is not None:
                name = name.strip()
                if not 1 <= len(name) <= DISPLAY_NAME_MAX or any(ord(c) < 32 or ord(c) == 127 for c in name):
                    raise field_error("display_name", f"Must be 1 to {DISPLAY_NAME_MAX} characters, no control characters.")
            update["display_name"] = name
        async with transaction() as conn:
            if "avatar_attachment_id" in changes:
                avatar_id = changes["avatar_attachment_id"]
                if avatar_id is not None:
                    found = await attachment_store.lock_avatar_candidate(avatar_id, user_id, conn)
                    if found is None or found["content_type"] not in INLINE_TYPES:
                        raise field_error(
                            "avatar_attachment_id", "Must be an image you uploaded that no message carries."
                        )
                update["avatar_id"] = avatar_id
            await user_store.update_profile(user_id, update, conn)
            row = await user_store.get_account(user_id, conn)
        if row is None:
            raise NotFound("No such user.")
        if update:
            await self.announce(user_id)
        return public_user(row)

    async def announce(self, user_id: int, *, audience: list[int] | None = None) -> None:
        """After commit: `user_updated` with the user's current public profile, to `audience`
        (default: the user's contacts and the user's own sockets), ephemeral like `presence`."""
        row = await user_store.get_user(user_id)
        if row is None:
            return
        online = (await self._presence.online([user_id]))[user_id]
        if audience is None:
            audience = [*await user_store.contacts(user_id), user_id]
        frame = {"type": "user_updated", "data": {"user": public_profile(row, online)}}
        await publish_ephemeral(self._redis, audience, frame)

    async def profile(self, *, viewer_id: int, user_id: int) -> dict[str, Any]:
        if not possible_id(user_id):  # no such id can exist; never send it to PostgreSQL
            raise NotFound("No such user.")
        row = await user_store.get_user(user_id)
        if row is None or (not row["is_active"] and row["deleted_at"] is None):
            raise NotFound("No such user.")
        return (await self._publics(viewer_id, [row]))[0]

    async def _publics(self, viewer_id: int, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Public profiles as viewer_id may see them: presence only of contacts (and self), and
        never of users the viewer blocked."""
        others = [row["id"] for row in rows if row["id"] != viewer_id]
        contacts = await user_store.sharing_a_chat(viewer_id, others)
        visible = (contacts - await block_store.blocked_by(viewer_id, list(contacts))) | {viewer_id}
        online = await self._presence.online([row["id"] for row in rows if row["id"] in visible])
        return [public_profile(row, online.get(row["id"]) if row["id"] in visible else None) for row in rows]

    async def search(self, *, caller_id: int, query: str, cursor: str | None, limit: int) -> Page:
        position = read_cursor(cursor, {"u": text_field, "id": seq_field})
        after = (position["u"], position["id"]) if position else None
        rows = await user_store.search_by_prefix(
            prefix=query,
            exclude_id=caller_id,
            after=after,
            limit=limit + 1,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        items = await self._publics(caller_id, rows)
        next_cursor = encode_cursor({"u": rows[-1]["username"].lower(), "id": rows[-1]["id"]}) if more else None
        return Page(items=items, next_cursor=next_cursor)

    # --- blocking ------------------------------------------------------------------------------
    async def _block_target(self, blocker_id: int, user_id: int) -> None:
        if user_id == blocker_id:
            raise field_error("user_id", "You cannot block yourself.")
        row = await user_store.get_user(user_id) if possible_id(user_id) else None
        if row is None or row["deleted_at"] is not None:
            raise NotFound("No such user.")

    async def block(self, *, blocker_id: int, user_id: int) -> None:
        """Idempotent. From now on user_id cannot open a direct chat with, send to the direct
        chat with, or add to a group the blocker, and the blocker gets no typing or presence
        from user_id (app/services/chats.py, messages.py, gateway.py)."""
        await self._block_target(blocker_id, user_id)
        await block_store.block(blocker_id, user_id)

    async def unblock(self, *, blocker_id: int, user_id: int) -> None:
        """Idempotent; 404 for a user that does not exist, as for block."""
        await self._block_target(blocker_id, user_id)
        await block_store.unblock(blocker_id, user_id)

    async def blocked(self, *, user_id: int, cursor: str | None, limit: int) -> Page:
        """The users the caller blocked, latest first."""
        position = read_cursor(cursor, {"b": seq_field})
        rows = await block_store.page(user_id, before=position["b"] if position else None, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        items = await self._publics(user_id, rows)
        return Page(items=items, next_cursor=encode_cursor({"b": rows[-1]["block_id"]}) if more else None)
