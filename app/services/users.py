"""Profiles and username search. Public profiles never include the email, and show `online`
/ `last_seen_at` only to the user and to users who share a chat with them (the audience of
their presence events); to anyone else both are null."""

from __future__ import annotations

from typing import Any

from app.errors import NotFound
from app.ids import possible_id
from app.services.pages import Page, encode_cursor, read_cursor, seq_field, text_field
from app.services.presence import PresenceService
from app.services.views import public_profile, public_user
from app.storage import users as user_store


class UserService:
    def __init__(self, presence: PresenceService) -> None:
        self._presence = presence

    async def me(self, *, user_id: int) -> dict[str, Any]:
        row = await user_store.get_user(user_id)
        if row is None:
            raise NotFound("No such user.")
        return public_user(row)

    async def profile(self, *, viewer_id: int, user_id: int) -> dict[str, Any]:
        if not possible_id(user_id):  # no such id can exist; never send it to PostgreSQL
            raise NotFound("No such user.")
        row = await user_store.get_user(user_id)
        if row is None or not row["is_active"]:
            raise NotFound("No such user.")
        return (await self._publics(viewer_id, [row]))[0]

    async def _publics(self, viewer_id: int, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Public profiles as viewer_id may see them: presence only of contacts (and self)."""
        others = [row["id"] for row in rows if row["id"] != viewer_id]
        visible = await user_store.sharing_a_chat(viewer_id, others) | {viewer_id}
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
