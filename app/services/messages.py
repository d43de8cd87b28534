"""Sending, editing, deleting and reading messages: the rules REST and WebSocket share."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

from app import metrics
from app.config import Settings
from app.db import transaction
from app.errors import Conflict, Forbidden, RateLimited, field_error
from app.services.chats import MANAGERS, check_text, hidden, require_member, require_unmuted
from app.services.dispatch import Dispatcher
from app.services.mentions import mention_names
from app.services.pages import Page, encode_cursor, optional, read_cursor, seq_field
from app.services.ratelimit import SendLimits, SlowMode
from app.services.turns import Turn
from app.services.views import message_body
from app.storage import attachments as attachment_store
from app.storage import blocks as block_store
from app.storage import messages as message_store
from app.storage import outbox


class Draft(Protocol):
    """A message to send, as either transport validated it (REST's SendIn, WebSocket's SendData)."""

    @property
    def chat_id(self) -> int: ...
    @property
    def content(self) -> str: ...
    @property
    def client_msg_id(self) -> str | None: ...
    @property
    def reply_to_id(self) -> int | None: ...
    @property
    def attachment_ids(self) -> list[int] | None: ...


class MessageService:
    def __init__(self, settings: Settings, send_limiter: SendLimits, dispatcher: Dispatcher, slow_mode: SlowMode) -> None:
        self._max_length = settings.max_message_length
        # RATE_LIMIT_MESSAGES: sends, edits, deletes and reactions count together.
        self._limiter = send_limiter
        self._dispatcher = dispatcher
        self._slow_mode = slow_mode

    def _check_content(self, content: str, *, may_be_empty: bool = False) -> None:
        if not (0 if may_be_empty else 1) <= len(content) <= self._max_length:
            raise field_error("content", f"Must be 1 to {self._max_length} characters.")
        check_text("content", content)

    def check_draft(self, draft: Draft) -> None:
        """What a send checks before anything is stored (a scheduled one too)."""
        self._check_content(draft.content, may_be_empty=bool(draft.attachment_ids))
        check_text("client_msg_id", draft.client_msg_id)

    async def send(
        self, *, sender_id: int, draft: Draft, transport: str, is_bot: bool = False, turn: Turn | None = None
    ) -> tuple[dict[str, Any], bool]:
        """(message, created). Acknowledge only what is committed; a repeat of the same
        (sender, client_msg_id) returns the first message and stores nothing. `content` may
        be empty when the message carries attachments. With a `turn` (a socket's pipelined
        frames), the store waits for the previous frame's, after this send's rate-limit check."""
        try:
            return await self._send(sender_id, draft, transport, is_bot, turn)
        finally:
            if turn is not None:
                turn.end()

    async def _send(
        self, sender_id: int, draft: Draft, transport: str, is_bot: bool, turn: Turn | None
    ) -> tuple[dict[str, Any], bool]:
        chat_id, content, client_msg_id = draft.chat_id, draft.content, draft.client_msg_id
        reply_to_id, attachment_ids = draft.reply_to_id, draft.attachment_ids
        self.check_draft(draft)
        # A repeat always gets its first message back (it spends a slot of the limit, as any
        # attempt does). The send itself detects it (unique key, whole statement rolled back, no
        # seq gap), so a first send costs no lookup.
        wait, scope = await self._limiter.hit(sender_id, bot=is_bot)
        if turn is not None:
            await turn.wait()
        if wait > 0:
            existing = await self._first_send(sender_id, client_msg_id)
            if existing is not None:
                return message_body(existing, sender_id), False
            metrics.RATE_LIMITED.labels(scope=scope).inc()
            raise RateLimited(wait, "Sending too fast; retry later.")
        message = message_store.NewMessage(
            chat_id=chat_id,
            sender_id=sender_id,
            client_msg_id=client_msg_id,
            content=content,
            reply_to_id=reply_to_id,
            mention_names=mention_names(content),
            enforce_slow_mode=True,
        )
        row = await self._store(message, attachment_ids)
        if row is None:
            # A repeat (also from a member removed since), an outsider, a muted member, a
            # member under slow mode, or a reply to a message of another chat (told apart
            # only once membership is known).
            existing = await self._first_send(sender_id, client_msg_id)
            if existing is not None:
                return message_body(existing, sender_id), False
            member = await require_member(chat_id, sender_id)
            require_unmuted(member)
            if member["slow_mode"] and member["role"] not in MANAGERS:
                # The statement refused for slow mode: this member's turn now, or 429.
                await self._slow_mode.enforce(chat_id=chat_id, user_id=sender_id, seconds=member["slow_mode"])
                row = await self._store(replace(message, enforce_slow_mode=False), attachment_ids)
                existing = await self._first_send(sender_id, client_msg_id) if row is None else None
                if existing is not None:
                    return message_body(existing, sender_id), False
        if row is None:
            if await block_store.blocked_in_direct_chat(chat_id, sender_id):
                raise Forbidden("The other member of this chat has blocked you.")
            if reply_to_id is not None:
                raise field_error("reply_to_id", "Must be a message of the same chat.")
            raise hidden()
        metrics.MESSAGES.labels(transport=transport).inc()
        await self._dispatcher.after_commit(chat_id)
        return message_body(row, sender_id), True

    async def _store(self, message: message_store.NewMessage, attachment_ids: list[int] | None) -> dict[str, Any] | None:
        """The stored message, or None with nothing stored (see send_message)."""
        try:
            if attachment_ids:
                return await self._send_with_attachments(message, attachment_ids)
            return await message_store.send_message(message)
        except message_store.DuplicateSend:
            return None

    @staticmethod
    async def _send_with_attachments(message: message_store.NewMessage, attachment_ids: list[int]) -> dict[str, Any] | None:
        """The send's statement inside a transaction that first locks the attachments: each
        must be the sender's own and carried by no message yet (a concurrent send naming one
        waits for the lock, then finds it taken). None, with nothing stored, as the plain send."""
        async with transaction() as conn:
            if not await attachment_store.claim(attachment_ids, message.sender_id, conn):
                if message.client_msg_id is not None and await message_store.by_client_id(
                    message.sender_id, message.client_msg_id, conn
                ):
                    return None  # a repeat: its first send took them; the caller answers with it
                raise field_error("attachment_ids", "Each must be an upload of yours that no message carries yet.")
            row = await message_store.send_message(message, conn=conn)
            if row is None:
                return None
            await attachment_store.attach(attachment_ids, row["id"], conn)
            return await message_store.get_message(row["id"], conn)

    @staticmethod
    async def _first_send(sender_id: int, client_msg_id: str | None) -> dict[str, Any] | None:
        return await message_store.by_client_id(sender_id, client_msg_id) if client_msg_id is not None else None

    async def history(
        self,
        *,
        user_id: int,
        chat_id: int,
        before_seq: int | None,
        after_seq: int | None,
        cursor: str | None,
        limit: int,
    ) -> Page:
        # A member added to a chat whose history is hidden sees only what came after joining.
        floor = int((await require_member(chat_id, user_id))["visible_after_seq"])
        position = read_cursor(cursor, {"b": optional(seq_field), "a": optional(seq_field)})
        if position is not None:
            before_seq, after_seq = position["b"], position["a"]
        rows = await message_store.history(
            chat_id=chat_id, before_seq=before_seq, after_seq=after_seq, limit=limit, floor=floor
        )
        next_cursor = None
        if len(rows) == limit:
            # Forward pages continue after the newest; backward pages before the oldest.
            if after_seq is not None:
                next_cursor = encode_cursor({"a": rows[-1]["seq"], "b": before_seq})
            elif rows[0]["seq"] > floor + 1:
                next_cursor = encode_cursor({"b": rows[0]["seq"]})
        return Page(items=[message_body(row, user_id, hidden_before=floor) for row in rows], next_cursor=next_cursor)

    async def edit(self, *, user_id: int, message_id: int, content: str, is_bot: bool = False) -> dict[str, Any]:
        # Edits share the send limit: each one is an inbox event for every member.
        await self._limiter.enforce(user_id, bot=is_bot, message="Too many changes; retry later.")
        self._check_content(content)
        async with transaction() as conn:
            row = await self._own_message_for_update(user_id, message_id, conn, editing=True)
            if row["is_deleted"]:
                raise Conflict("A deleted message cannot be edited.")
            row = await message_store.update_content(message_id, content, mention_names(content), conn)
            await outbox.record(type="message_edited", chat_id=row["chat_id"], payload={"message_id": message_id}, conn=conn)
        await self._dispatcher.after_commit(row["chat_id"])
        return message_body(row, user_id)

    async def delete(self, *, user_id: int, message_id: int, is_bot: bool = False) -> dict[str, Any]:
        """Soft delete; idempotent (a second delete changes and announces nothing)."""
        await self._limiter.enforce(user_id, bot=is_bot, message="Too many changes; retry later.")
        async with transaction() as conn:
            row = await self._own_message_for_update(user_id, message_id, conn)
            if row["is_deleted"]:
                return message_body(row, user_id)
            row = await message_store.soft_delete(message_id, conn)
            await outbox.record(type="message_deleted", chat_id=row["chat_id"], payload={"message_id": message_id}, conn=conn)
        await self._dispatcher.after_commit(row["chat_id"])
        return message_body(row, user_id)

    @staticmethod
    async def _own_message_for_update(user_id: int, message_id: int, conn: Any, *, editing: bool = False) -> dict[str, Any]:
        row = await message_store.lock_message(message_id, conn)
        if row is None:
            raise hidden()
        member = await require_member(row["chat_id"], user_id, conn)
        if editing:
            require_unmuted(member)  # a muted member may still delete their own messages
        if row["sender_id"] != user_id:
            raise Forbidden("Only the sender can change a message.")
        return row

