"""Bots (POST /bots and the rest): users with `is_bot`, owned by the user who made them, acting
over the same API with a token that does not expire, and optionally a webhook that receives
their inbox (app/services/webhooks.py delivers it).

Only the owner sees or changes a bot; any other caller gets the 404 of a bot that does not
exist. The token and the webhook secret are shown once, when made.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from arq.connections import ArqRedis

from app.config import Settings
from app.db import transaction
from app.errors import Conflict, NotFound, field_error
from app.outbound import Network, TargetRefused, check_target
from app.services.chats import leave_every_chat
from app.services.dispatch import Dispatcher
from app.services.pages import Page, encode_cursor, read_cursor, seq_field
from app.services.sessions import SessionService
from app.services.views import bot_body, public_user, webhook_delivery_body
from app.services.webhooks import enqueue_webhooks
from app.storage import bots as bot_store
from app.storage import inbox as inbox_store
from app.storage import sessions as session_store
from app.storage import webhooks as webhook_store

DISPLAY_NAME_MAX = 64


def _secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class BotService:
    def __init__(
        self, settings: Settings, redis: ArqRedis, *, sessions: SessionService, dispatcher: Dispatcher,
        allowed: Sequence[Network],
    ) -> None:  # fmt: skip
        self._settings = settings
        self._redis = redis
        self._sessions = sessions
        self._dispatcher = dispatcher
        self._allowed = list(allowed)

    async def _check_url(self, url: str) -> None:
        schemes = ("http", "https") if self._settings.webhook_allow_http else ("https",)
        try:
            await check_target(url, allowed=self._allowed, schemes=schemes)
        except TargetRefused as exc:
            raise field_error("webhook_url", str(exc)) from None

    async def _owned(self, owner_id: int, bot_id: int) -> dict[str, Any]:
        row = await bot_store.owned(owner_id, bot_id)
        if row is None:
            raise NotFound("No such bot.")
        return row

    async def create(self, *, owner_id: int, username: str, display_name: str | None, webhook_url: str | None) -> dict[str, Any]:
        """{bot, token, webhook_secret}: 409 when the username is taken or the owner has
        BOTS_PER_USER bots; 422 for a webhook URL the server will not call."""
        if webhook_url is not None:
            await self._check_url(webhook_url)
        secret = _secret()
        async with transaction() as conn:
            await bot_store.lock_owner(owner_id, conn)  # two creations at once cannot both pass the count
            if await bot_store.count_owned(owner_id, conn) >= self._settings.bots_per_user:
                raise Conflict(f"You may own at most {self._settings.bots_per_user} bots.")
            row = await bot_store.insert_bot(
                owner_id=owner_id, username=username, display_name=display_name, secret=secret, conn=conn
            )
            if row is None:
                raise Conflict("That username is taken.")
            if webhook_url is not None:
                await webhook_store.set_url(row["id"], webhook_url, conn)
        token = await self._sessions.open_bot_session(row["id"])
        return {"bot": public_user(row), "token": token, "webhook_secret": secret}

    async def list(self, *, owner_id: int, cursor: str | None, limit: int) -> Page:
        position = read_cursor(cursor, {"id": seq_field})
        rows = await bot_store.page_owned(owner_id, after_id=position["id"] if position else None, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(items=[bot_body(row) for row in rows], next_cursor=encode_cursor({"id": rows[-1]["id"]}) if more else None)

    async def get(self, *, owner_id: int, bot_id: int) -> dict[str, Any]:
        return bot_body(await self._owned(owner_id, bot_id))

    async def update(
        self, *, owner_id: int, bot_id: int, changes: dict[str, Any]
    ) -> dict[str, Any]:
        """`display_name`, `webhook_url` (null: no webhook) and `webhook_enabled`, each only
        when present. Enabling resumes from the cursor at once."""
        await self._owned(owner_id, bot_id)
        url = changes.get("webhook_url")
        if url is not None:
            await self._check_url(url)
        async with transaction() as conn:
            if changes.get("display_name") is not None:
                await bot_store.set_display_name(bot_id, changes["display_name"], conn)
            if "webhook_url" in changes:
                await webhook_store.set_url(bot_id, url, conn)
            if changes.get("webhook_enabled") is not None:
                enabled = bool(changes["webhook_enabled"])
                await webhook_store.set_enabled(bot_id, enabled, None if enabled else "Disabled by its owner.", conn)
        await enqueue_webhooks(self._redis, [bot_id])
        return bot_body(await self._owned(owner_id, bot_id))

    async def rotate_token(self, *, owner_id: int, bot_id: int) -> dict[str, Any]:
        """A new token; the old one and its sockets stop at once (4401)."""
        await self._owned(owner_id, bot_id)
        async with transaction() as conn:
            revoked = await session_store.revoke_all_sessions(bot_id, conn)
        await self._sessions.announce_revocation(*revoked)
        return {"token": await self._sessions.open_bot_session(bot_id)}

    async def rotate_secret(self, *, owner_id: int, bot_id: int) -> dict[str, Any]:
        """A new webhook secret, signing every attempt from now on (retries of a batch too)."""
        await self._owned(owner_id, bot_id)
        secret = _secret()
        async with transaction() as conn:
            await webhook_store.set_secret(bot_id, secret, conn)
        return {"webhook_secret": secret}

    async def rewind(self, *, owner_id: int, bot_id: int, inbox_seq: int) -> dict[str, Any]:
        """Deliveries start again after `inbox_seq` (at most the bot's last inbox_seq); events
        no longer retained arrive as a `gap` marker."""
        row = await self._owned(owner_id, bot_id)
        if row["w_url"] is None:
            raise NotFound("This bot has no webhook.")
        if inbox_seq > await inbox_store.last_seq(bot_id):
            raise field_error("inbox_seq", "After the bot's last inbox event.")
        async with transaction() as conn:
            await webhook_store.rewind(bot_id, inbox_seq, conn)
        await enqueue_webhooks(self._redis, [bot_id])
        body = bot_body(await self._owned(owner_id, bot_id))
        return body["webhook"]  # type: ignore[no-any-return]

    async def deliveries(self, *, owner_id: int, bot_id: int, cursor: str | None, limit: int) -> Page:
        """The latest attempts, newest first."""
        await self._owned(owner_id, bot_id)
        position = read_cursor(cursor, {"b": seq_field})
        rows = await webhook_store.deliveries(bot_id, before_id=position["b"] if position else None, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(
            items=[webhook_delivery_body(row) for row in rows],
            next_cursor=encode_cursor({"b": rows[-1]["id"]}) if more else None,
        )

    async def delete(self, *, owner_id: int, bot_id: int) -> None:
        """The bot leaves every chat; its token (sockets closed with 4401) and webhook end. Its
        messages stay, shown as from a deleted account."""
        await self._owned(owner_id, bot_id)
        async with transaction() as conn:
            revoked = await session_store.revoke_all_sessions(bot_id, conn)
            await leave_every_chat(bot_id, conn)
            await bot_store.retire(bot_id, conn)
        await self._sessions.announce_revocation(*revoked)
        await self._dispatcher.after_commit()
