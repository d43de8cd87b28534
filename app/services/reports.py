"""Reports of messages to the server's administrators, and their resolution. A reporter sees
only their own report: never a count, never another reporter."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from redis.asyncio import Redis

from app import keys
from app.db import Row, transaction
from app.errors import Conflict, NotFound
from app.ids import possible_id
from app.jsonutil import iso
from app.realtime.node import publish_ephemeral
from app.services.admin import AdminService
from app.services.chats import check_text, hidden, require_member
from app.services.pages import Page, encode_cursor, read_cursor, seq_field
from app.services.ratelimit import SlidingWindowLimiter
from app.services.views import message_body
from app.storage import messages as message_store
from app.storage import reports as report_store

log = logging.getLogger(__name__)

REPORT_WINDOW = 3600.0  # REPORT_RATE_LIMIT counts per hour


class ReportService:
    def __init__(self, redis: Redis, *, admin: AdminService, limiter: SlidingWindowLimiter) -> None:
        self._redis = redis
        self._admin = admin
        self._limiter = limiter

    async def report(
        self, *, user_id: int, message_id: int, reason: str, comment: str | None
    ) -> tuple[dict[str, Any], bool]:
        """(report, created): members of the message's chat only (404 for anyone else, as for
        a message that does not exist); once per message per reporter, a repeat answers the
        first. A new report reaches every online administrator as `admin_report`."""
        check_text("comment", comment)
        message = await message_store.get_message(message_id)
        if message is None:
            raise hidden()
        member = await require_member(message["chat_id"], user_id)
        if message["seq"] <= member["visible_after_seq"]:
            raise hidden()  # from before they joined a chat whose history is hidden from newcomers
        existing = await report_store.of_reporter(message_id, user_id)
        if existing is not None:
            return report_body(existing), False
        await self._limiter.enforce(
            keys.REPORT_RATE.format(user_id=user_id), scope="report", message="Too many reports; retry later."
        )
        row = await report_store.insert(
            message_id=message_id,
            chat_id=message["chat_id"],
            reporter_id=user_id,
            sender_id=message["sender_id"],
            reason=reason,
            comment=comment,
        )
        if row is None:  # a concurrent repeat won
            first = await report_store.of_reporter(message_id, user_id)
            assert first is not None
            return report_body(first), False
        body = report_body(row)
        await publish_ephemeral(
            self._redis, await report_store.admin_ids(), {"type": "admin_report", "data": {"report": body}}
        )
        log.info("message reported", extra={"report_id": row["id"], "message_id": message_id})
        return body, True

    async def page(self, *, admin_id: int, status: str | None, cursor: str | None, limit: int) -> Page:
        """Reports newest first, each with the reported message as it is now (null once gone)."""
        position = read_cursor(cursor, {"id": seq_field})
        rows = await report_store.page(status=status, before_id=position["id"] if position else None, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        messages = {m["id"]: m for m in await message_store.get_messages(list({r["message_id"] for r in rows}))}
        items = [
            {
                **report_body(row),
                "note": row["note"],
                "message": message_body(messages[row["message_id"]], admin_id)
                if row["message_id"] in messages
                else None,
            }
            for row in rows
        ]
        return Page(items=items, next_cursor=encode_cursor({"id": rows[-1]["id"]}) if more else None)

    async def resolve(self, *, admin_id: int, report_id: int, action: str, note: str | None) -> dict[str, Any]:
        """Act, then close the report (and every other open report of the same message).
        `delete_message` is the moderation delete (announced as `message_deleted`);
        `deactivate_sender` the account deactivation (sessions revoked, sockets 4401). A
        report resolved already answers 409."""
        check_text("note", note)
        report = await self._open_report(report_id)
        if action == "delete_message":
            with contextlib.suppress(NotFound):  # gone already (expired, erased): nothing left to delete
                await self._admin.delete_message(admin_id=admin_id, message_id=report["message_id"])
        elif action == "deactivate_sender" and report["sender_id"] is not None:
            await self._admin.deactivate(admin_id=admin_id, user_id=report["sender_id"])
        async with transaction() as conn:
            locked = await report_store.lock(report_id, conn)
            if locked is None or locked["status"] != "open":
                raise Conflict("This report was resolved already.")
            row = await report_store.resolve(report_id, action=action, note=note, by=admin_id, conn=conn)
        log.info("report resolved", extra={"report_id": report_id, "action": action, "admin_id": admin_id})
        return report_body(row)

    @staticmethod
    async def _open_report(report_id: int) -> Row:
        row = await report_store.get(report_id) if possible_id(report_id) else None
        if row is None:
            raise NotFound("No such report.")
        if row["status"] != "open":
            raise Conflict("This report was resolved already.")
        return row


def report_body(row: Row) -> dict[str, Any]:
    """`Report`: what its reporter sees of it, and the base of what administrators see."""
    return {
        "id": row["id"],
        "message_id": row["message_id"],
        "chat_id": row["chat_id"],
        "reporter_id": row["reporter_id"],
        "reason": row["reason"],
        "comment": row["comment"],
        "status": row["status"],
        "action": row["action"],
        "created_at": iso(row["created_at"]),
        "resolved_at": iso(row["resolved_at"]),
        "resolved_by": row["resolved_by"],
    }
