"""Server administration: administrators (`is_admin`, granted with `messenger admin grant`)
find accounts, deactivate and reactivate them, and delete any message. Everyone else gets 403
on every /admin route, before anything about the request is looked at."""

from __future__ import annotations

import logging
from typing import Any

from app.db import transaction
from app.errors import Forbidden, NotFound, field_error
from app.ids import possible_id
from app.services.chats import hidden
from app.services.dispatch import Dispatcher
from app.services.pages import Page, encode_cursor, read_cursor, seq_field
from app.services.sessions import SessionService
from app.services.views import message_body, public_user
from app.storage import accounts as account_store
from app.storage import messages as message_store
from app.storage import outbox
from app.storage import sessions as session_store
from app.storage import users as user_store

log = logging.getLogger(__name__)


class AdminService:
    def __init__(self, *, sessions: SessionService, dispatcher: Dispatcher) -> None:
        self._sessions = sessions
        self._dispatcher = dispatcher

    async def require_admin(self, *, user_id: int) -> None:
        if not await account_store.is_admin(user_id):
            raise Forbidden("Only server administrators may do this.")

    # --- the CLI (messenger admin ...) and the routes ------------------------------------------
    async def set_admin(self, *, username: str, is_admin: bool) -> None:
        """Grant or revoke administration; NotFound for no such account."""
        if await account_store.set_admin(username, is_admin) is None:
            raise NotFound(f"No account named {username!r}.")
        log.info("administration changed", extra={"is_admin": is_admin})

    async def id_of(self, *, username: str) -> int:
        user_id = await account_store.id_of(username)
        if user_id is None:
            raise NotFound(f"No account named {username!r}.")
        return user_id

    async def users(self, *, query: str | None, cursor: str | None, limit: int) -> Page:
        """Accounts (deactivated too) whose username, display name or email starts with
        `query`, case-insensitive; every account without one. By id."""
        position = read_cursor(cursor, {"id": seq_field})
        rows = await account_store.search_accounts(
            prefix=query, after_id=position["id"] if position else None, limit=limit + 1
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(
            items=[public_user(row) for row in rows],
            next_cursor=encode_cursor({"id": rows[-1]["id"]}) if more else None,
        )

    async def deactivate(self, *, admin_id: int | None, user_id: int) -> dict[str, Any]:
        """Sessions revoked and sockets closed (4401) at once; logins answer 403 until
        reactivated. Idempotent. An administrator cannot deactivate itself (422)."""
        if user_id == admin_id:
            raise field_error("user_id", "You cannot deactivate your own account.")
        async with transaction() as conn:
            if not possible_id(user_id) or not await account_store.set_active(user_id, False, conn):
                raise NotFound("No such user.")
            revoked = await session_store.revoke_all_sessions(user_id, conn)
        await self._sessions.announce_revocation(*revoked)
        log.info("account deactivated", extra={"user_id": user_id, "sessions": len(revoked)})
        return await self._account(user_id)

    async def reactivate(self, *, user_id: int) -> dict[str, Any]:
        """Logins work again (the sessions revoked at deactivation stay ended). Idempotent."""
        async with transaction() as conn:
            if not possible_id(user_id) or not await account_store.set_active(user_id, True, conn):
                raise NotFound("No such user.")
        log.info("account reactivated", extra={"user_id": user_id})
        return await self._account(user_id)

    async def delete_message(self, *, admin_id: int, message_id: int) -> dict[str, Any]:
        """Moderation delete of any message, announced to its chat as `message_deleted` like
        the sender's own delete; idempotent."""
        async with transaction() as conn:
            row = await message_store.lock_message(message_id, conn)
            if row is None:
                raise hidden()
            if not row["is_deleted"]:
                row = await message_store.soft_delete(message_id, conn)
                await outbox.record(
                    type="message_deleted", chat_id=row["chat_id"], payload={"message_id": message_id}, conn=conn
                )
                log.info("message deleted by an administrator", extra={"message_id": message_id, "admin_id": admin_id})
        await self._dispatcher.after_commit(row["chat_id"])
        return message_body(row, admin_id)

    @staticmethod
    async def _account(user_id: int) -> dict[str, Any]:
        row = await user_store.get_account(user_id)
        if row is None:
            raise NotFound("No such user.")
        return public_user(row)
