"""Delivered and read marks per member, message-level receipt times, and receipt events."""

from __future__ import annotations

from typing import Any

from app.db import transaction
from app.errors import field_error
from app.jsonutil import iso
from app.services.chats import hidden, require_member
from app.services.dispatch import Dispatcher
from app.storage import messages as message_store
from app.storage import outbox
from app.storage import receipts as receipt_store


class ReceiptService:
    def __init__(self, dispatcher: Dispatcher, *, large_group_size: int) -> None:
        self._dispatcher = dispatcher
        self._large_group_size = large_group_size

    async def mark_read(self, *, user_id: int, chat_id: int, up_to_seq: int) -> dict[str, Any]:
        """Read up to a seq (clamped to the chat's last); reading implies delivered."""
        if up_to_seq < 0:
            raise field_error("up_to_seq", "Must be 0 or more.")
        changed = False
        async with transaction() as conn:
            member = await require_member(chat_id, user_id, conn)
            target = min(up_to_seq, member["last_seq"])
            for status in ("delivered", "read"):
                changed |= await self._advance(conn, chat_id=chat_id, user_id=user_id, status=status, up_to_seq=target)
            read_seq = max(member["read_seq"], target)
            unread, mentions = await message_store.count_unread(chat_id, user_id, read_seq, conn=conn)
        if changed:
            await self._dispatcher.after_commit()
        return {"chat_id": chat_id, "read_seq": read_seq, "unread_count": unread, "unread_mentions": mentions}

    async def mark_read_messages(self, *, user_id: int, chat_id: int, message_ids: list[int]) -> dict[str, Any]:
        await require_member(chat_id, user_id)
        up_to = await message_store.max_seq_of(chat_id, message_ids)
        if up_to is None:
            raise field_error("message_ids", "None of these messages is in this chat.")
        return await self.mark_read(user_id=user_id, chat_id=chat_id, up_to_seq=up_to)

    async def mark_read_coalesced(
        self, *, user_id: int, chat_id: int, up_to_seq: int | None, message_ids: list[int]
    ) -> dict[str, Any]:
        """Many `read` frames of one chat applied as one: read up to the highest seq they name
        (`up_to_seq`, or the latest of `message_ids` in this chat). One transaction, one
        receipt event at most, whatever the number of frames."""
        if message_ids:
            await require_member(chat_id, user_id)
            found = await message_store.max_seq_of(chat_id, message_ids)
            if found is None and up_to_seq is None:
                raise field_error("message_ids", "None of these messages is in this chat.")
            up_to_seq = max(up_to_seq or 0, found or 0)
        assert up_to_seq is not None
        return await self.mark_read(user_id=user_id, chat_id=chat_id, up_to_seq=up_to_seq)

    async def mark_delivered(self, *, acks: list[tuple[int, int, int]]) -> None:
        """Devices acked inbox events, as (user_id, after_inbox_seq, up_to_inbox_seq): the
        messages those events carried are delivered to their users. One transaction for the
        whole batch of acks the gateway collected."""
        ranges = await receipt_store.delivered_ranges(acks)
        if not ranges:
            return
        async with transaction() as conn:
            moved = await receipt_store.advance_delivered(
                [(r["chat_id"], r["user_id"], int(r["seq"])) for r in ranges], conn
            )
            if moved:
                await receipt_store.announce_delivered(moved, max_group=self._large_group_size, conn=conn)
        if moved:
            await self._dispatcher.after_commit(*{r["chat_id"] for r in moved})

    async def _advance(self, conn: Any, *, chat_id: int, user_id: int, status: str, up_to_seq: int) -> bool:
        old = await receipt_store.advance(chat_id=chat_id, user_id=user_id, status=status, up_to_seq=up_to_seq, conn=conn)
        if old is None:
            return False
        at = await receipt_store.insert_mark(chat_id=chat_id, user_id=user_id, status=status, up_to_seq=up_to_seq, conn=conn)
        await receipt_store.stamp_messages(
            chat_id=chat_id, user_id=user_id, status=status, after_seq=old, up_to_seq=up_to_seq, conn=conn
        )
        # To the senders of the messages this mark moved over: in a group, every member's
        # ack announced to every member would cost the square of the group's size.
        await outbox.record_to_senders(
            type="receipt",
            chat_id=chat_id,
            reader_id=user_id,
            after_seq=old,
            up_to_seq=up_to_seq,
            payload={"chat_id": chat_id, "user_id": user_id, "status": status, "up_to_seq": up_to_seq, "at": iso(at)},
            max_group=self._large_group_size,
            conn=conn,
        )
        return True

    async def receipts(self, *, user_id: int, message_id: int) -> list[dict[str, Any]]:
        row = await message_store.get_message(message_id)
        if row is None:
            raise hidden()
        await require_member(row["chat_id"], user_id)
        rows = await receipt_store.per_member(chat_id=row["chat_id"], seq=row["seq"], sender_id=row["sender_id"])
        return [
            {"user_id": r["user_id"], "delivered_at": iso(r["delivered_at"]), "read_at": iso(r["read_at"])} for r in rows
        ]
