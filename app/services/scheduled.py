"""Scheduled messages (contract: Scheduled and disappearing messages): POST /messages with a
future `send_at`, the /scheduled routes, and the job that sends them.

PostgreSQL holds each one until its moment; the `send_scheduled` cron job (every second, every
worker) takes due rows with FOR UPDATE SKIP LOCKED and stores each message in the transaction
that deletes its row: a kill -9 at any point leaves either the row (sent later) or the message
(sent once), never both, and a Redis wipe loses nothing because nothing is queued there. The
send is the normal one (seq, outbox, pushes) without the rate limit, which was charged when it
was scheduled. The author's devices hear `scheduled_updated` on every change and
`scheduled_failed` when it can no longer be sent (the author left the chat, a reply or an
attachment went away).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from arq.connections import ArqRedis

from app.db import fetchval, transaction
from app.errors import NotFound, RateLimited, field_error
from app.services.chats import require_member
from app.services.dispatch import Dispatcher, enqueue_delivery, partition_of
from app.services.mentions import mention_names
from app.services.messages import Draft, MessageService
from app.services.pages import Page, encode_cursor, read_cursor, seq_field, time_field
from app.services.ratelimit import SendLimits
from app.services.views import scheduled_body
from app.storage import attachments as attachment_store
from app.storage import messages as message_store
from app.storage import outbox
from app.storage import scheduled as scheduled_store

log = logging.getLogger(__name__)

HORIZON = timedelta(days=365)
SENDERS = 4  # transactions one worker sends scheduled messages in at once
BATCH = 50  # scheduled messages one transaction sends
LOOKAHEAD = 1.0  # seconds ahead a run waits for the next due message instead of ending


def _check_send_at(send_at: datetime) -> None:
    if send_at > datetime.now(UTC) + HORIZON:
        raise field_error("send_at", "At most 365 days ahead.")


async def _announce(row: dict[str, Any] | None, *, scheduled_id: int, chat_id: int, author_id: int, conn: Any) -> None:
    """`scheduled_updated` to the author's devices, in the change's transaction."""
    await outbox.record(
        type="scheduled_updated", chat_id=chat_id, user_ids=[author_id], conn=conn,
        payload={"scheduled": scheduled_body(row) if row else None, "id": scheduled_id},
    )  # fmt: skip


class ScheduledService:
    def __init__(self, messages: MessageService, limiter: SendLimits, dispatcher: Dispatcher) -> None:
        self._messages = messages
        self._limiter = limiter
        self._dispatcher = dispatcher

    async def create(self, *, author_id: int, draft: Draft, send_at: datetime, is_bot: bool = False) -> tuple[dict[str, Any], bool]:
        """(Scheduled, created): kept until `send_at`, nothing visible to others until then.
        Checked now as a send would be (404 outside the chat, 422 for a bad reply or
        attachment) and charged to the send limit now; the same client_msg_id again answers the
        first one."""
        self._messages.check_draft(draft)
        _check_send_at(send_at)
        if draft.client_msg_id is not None:
            existing = await scheduled_store.by_client_id(author_id, draft.client_msg_id)
            if existing is not None:
                return scheduled_body(existing), False
        wait, _ = await self._limiter.hit(author_id, bot=is_bot)
        if wait > 0:
            raise RateLimited(wait, "Sending too fast; retry later.")
        async with transaction() as conn:
            await require_member(draft.chat_id, author_id, conn)
            if draft.reply_to_id is not None and not await fetchval(
                "SELECT 1 FROM messages WHERE id = $1 AND chat_id = $2", draft.reply_to_id, draft.chat_id, conn=conn
            ):
                raise field_error("reply_to_id", "Must be a message of the same chat.")
            if draft.attachment_ids and not await attachment_store.claim(draft.attachment_ids, author_id, conn):
                raise field_error("attachment_ids", "Each must be an upload of yours that no message carries yet.")
            row = await scheduled_store.insert(
                chat_id=draft.chat_id, author_id=author_id, content=draft.content, reply_to_id=draft.reply_to_id,
                attachment_ids=list(draft.attachment_ids or []), client_msg_id=draft.client_msg_id, send_at=send_at,
                conn=conn,
            )  # fmt: skip
            if row is None:  # a concurrent repeat of the client_msg_id won
                raise field_error("client_msg_id", "Already scheduled.")
            await _announce(row, scheduled_id=row["id"], chat_id=row["chat_id"], author_id=author_id, conn=conn)
        await self._dispatcher.after_commit(draft.chat_id)
        return scheduled_body(row), True

    async def list(self, *, author_id: int, chat_id: int | None, cursor: str | None, limit: int) -> Page:
        position = read_cursor(cursor, {"t": time_field, "id": seq_field})
        after = (position["t"], position["id"]) if position else None
        rows = await scheduled_store.page(author_id, chat_id=chat_id, after=after, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor({"t": rows[-1]["send_at"].isoformat(), "id": rows[-1]["id"]}) if more else None
        return Page(items=[scheduled_body(row) for row in rows], next_cursor=next_cursor)

    async def update(self, *, author_id: int, scheduled_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """`content` and/or `send_at`, while it is pending; the author only (404 otherwise)."""
        async with transaction() as conn:
            row = await scheduled_store.own(author_id, scheduled_id, conn)
            if row is None:
                raise NotFound("No such scheduled message.")
            if "content" in changes:
                self._messages.check_draft(_Draft(row, content=changes["content"]))
            if "send_at" in changes:
                _check_send_at(changes["send_at"])
            row = await scheduled_store.update(scheduled_id, changes, conn)
            await _announce(row, scheduled_id=scheduled_id, chat_id=row["chat_id"], author_id=author_id, conn=conn)
        await self._dispatcher.after_commit(row["chat_id"])
        return scheduled_body(row)

    async def delete(self, *, author_id: int, scheduled_id: int) -> None:
        async with transaction() as conn:
            row = await scheduled_store.own(author_id, scheduled_id, conn)
            if row is None:
                raise NotFound("No such scheduled message.")
            await scheduled_store.delete(scheduled_id, conn)
            await _announce(None, scheduled_id=scheduled_id, chat_id=row["chat_id"], author_id=author_id, conn=conn)
        await self._dispatcher.after_commit(row["chat_id"])


class _Draft:
    """A stored scheduled message with new content, checked as a draft."""

    def __init__(self, row: dict[str, Any], *, content: str) -> None:
        self.chat_id: int = row["chat_id"]
        self.content = content
        self.client_msg_id: str | None = row["client_msg_id"]
        self.reply_to_id: int | None = row["reply_to_id"]
        self.attachment_ids: list[int] | None = list(row["attachment_ids"]) or None


# --- the job's side --------------------------------------------------------------------------
async def _send_batch() -> list[int]:
    """Send (or drop) up to BATCH due scheduled messages in one transaction; their chat ids
    (empty when none is due). Nothing in a row's path raises on bad data (a message that
    cannot be stored is a `scheduled_failed`), so one row never holds back the others; a
    database error rolls the batch back whole and the next run takes it again."""
    async with transaction() as conn:
        rows = await scheduled_store.take_due(BATCH, conn)
        for row in rows:
            chat_id, author_id = row["chat_id"], row["author_id"]
            reason = await _store(row, conn)
            if reason is not None:
                await outbox.record(
                    type="scheduled_failed", chat_id=chat_id, user_ids=[author_id], conn=conn,
                    payload={"scheduled_id": row["id"], "chat_id": chat_id, "reason": reason},
                )  # fmt: skip
            await _announce(None, scheduled_id=row["id"], chat_id=chat_id, author_id=author_id, conn=conn)
    return [int(row["chat_id"]) for row in rows]


async def _store(row: dict[str, Any], conn: Any) -> str | None:
    """Store the message as its author's send; why not (the contract's `reason`), or None."""
    author_id, client_msg_id = row["author_id"], row["client_msg_id"]
    if client_msg_id is not None and await message_store.by_client_id(author_id, client_msg_id, conn):
        client_msg_id = None  # sent live meanwhile under the same id: this one stands on its own
    attachment_ids = list(row["attachment_ids"])
    if attachment_ids and not await attachment_store.claim(attachment_ids, author_id, conn):
        return "attachment_gone"
    message = await message_store.send_message(
        message_store.NewMessage(
            chat_id=row["chat_id"], sender_id=author_id, client_msg_id=client_msg_id, content=row["content"],
            reply_to_id=row["reply_to_id"], mention_names=mention_names(row["content"]),
        ),
        conn,
    )  # fmt: skip
    if message is None:
        member = await fetchval(
            "SELECT 1 FROM chat_members WHERE chat_id = $1 AND user_id = $2", row["chat_id"], author_id, conn=conn
        )
        return "refused" if member else "not_a_member"
    if attachment_ids:
        await attachment_store.attach(attachment_ids, message["id"], conn)
    return None


async def send_due(redis: ArqRedis, *, partitions: int) -> int:
    """Send every scheduled message that is due, SENDERS at a time, and those falling due
    within the next second as they do (the cron job starts only on whole seconds); how many
    were taken."""

    async def sender() -> list[int]:
        chats: list[int] = []
        while batch := await _send_batch():
            chats += batch
        return chats

    done: list[int] = []
    while True:
        taken = [chat for chats in await asyncio.gather(*(sender() for _ in range(SENDERS))) for chat in chats]
        done += taken
        wait = await scheduled_store.seconds_to_next()
        # Nothing ahead within a second, or due rows only another worker holds (it sends them).
        if wait is None or wait > LOOKAHEAD or (wait == 0 and not taken):
            break
        await asyncio.sleep(wait)
    if done:
        await enqueue_delivery(redis, sorted({partition_of(chat_id, partitions) for chat_id in done}))
    return len(done)
