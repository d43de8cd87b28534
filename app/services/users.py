"""Profiles and username search. Public profiles never include the email, and show `online`
/ `last_seen_at` only to the user and to users who share a chat with them (the audience of
their presence events); to anyone else both are null."""

from __future__ import annotations

from typing import Any

from app.errors import NotFound, field_error
from app.jsonutil import iso
from app.services.auth import public_user
from app.services.pages import Page, decode_cursor, encode_cursor
from app.services.presence import PresenceService
from app.storage import users as user_store

MAX_ID = 2**63 - 1  # PostgreSQL bigint


class UserService:
    def __init__(self, presence: PresenceService) -> None:
        self._presence = presence

    async def me(self, *, user_id: int) -> dict[str, Any]:
        row = await user_store.get_user(user_id)
        if row is None:
            raise NotFound("No such user.")
        return public_user(row)

    async def profile(self, *, viewer_id: int, user_id: int) -> dict[str, Any]:
        if not 1 <= user_id <= MAX_ID:  # no such id can exist; never send it to PostgreSQL
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
        return [self._public(row, online.get(row["id"]) if row["id"] in visible else None) for row in rows]

    async def search(self, *, caller_id: int, query: str, cursor: str | None, limit: int) -> Page:
        after = self._search_position(decode_cursor(cursor))
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

    @staticmethod
    def _search_position(cursor: dict[str, Any] | None) -> tuple[str, int] | None:
        """The (lower username, id) a search cursor holds; 422 for anything else sent back."""
        if cursor is None:
            return None
        username, user_id = cursor.get("u"), cursor.get("id")
        if (
            not isinstance(username, str)
            or "\x00" in username
            or type(user_id) is not int
            or not 0 <= user_id <= MAX_ID
        ):
            raise field_error("cursor", "Not a cursor this server issued.")
        return username, user_id

    @staticmethod
    def _public(row: dict[str, Any], online: bool | None) -> dict[str, Any]:
        """online None: the viewer may not see this user's presence (both fields null)."""
        last_seen_at = iso(row["last_seen_at"]) if online is not None else None
        return {"id": row["id"], "username": row["username"], "online": online, "last_seen_at": last_seen_at}
