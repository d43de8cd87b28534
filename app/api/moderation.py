"""Moderation routes (contract v1.2): reporting a message to the server's administrators, and
a group's bans and mutes. The administrators' side of reports is in app/api/admin.py."""

from __future__ import annotations

from typing import Any

from quart_schema import tag

from app.api.responses import BanPage, Chat, Report
from app.api.schemas import BanIn, MuteIn, PageQuery, ReportIn
from app.api.validation import authenticated_blueprint, body, principal, query, responds, services

bp = authenticated_blueprint("moderation")


@bp.post("/messages/<int(signed=True):message_id>/report")
@tag(["messages"])
@responds(Report, 201, 200, errors=(404, 429))
@body(ReportIn)
async def report(message_id: int, data: ReportIn) -> tuple[dict[str, Any], int]:
    """Report a message to the server's administrators; members of its chat only. Once per
    message per reporter: a repeat answers 200 with the first report. REPORT_RATE_LIMIT per hour."""
    created_report, created = await services().reports.report(
        user_id=principal().user_id, message_id=message_id, reason=data.reason, comment=data.comment
    )
    return created_report, 201 if created else 200


@bp.put("/chats/<int(signed=True):chat_id>/bans/<int(signed=True):user_id>")
@tag(["chats"])
@responds(Chat, errors=(403, 404))
@body(BanIn)
async def ban(chat_id: int, user_id: int, data: BanIn) -> dict[str, Any]:
    """A group's owner, or an admin over a plain member: removes the user if a member and
    refuses adding them again until `until` (forever when absent). 422 for a direct chat."""
    return await services().moderation.ban(
        user_id=principal().user_id, chat_id=chat_id, target_id=user_id, until=data.until, reason=data.reason
    )


@bp.delete("/chats/<int(signed=True):chat_id>/bans/<int(signed=True):user_id>")
@tag(["chats"])
@responds(None, 204, errors=(403, 404))
async def unban(chat_id: int, user_id: int) -> tuple[str, int]:
    """Lift a ban; idempotent. The group's owner or admins."""
    await services().moderation.unban(user_id=principal().user_id, chat_id=chat_id, target_id=user_id)
    return "", 204


@bp.get("/chats/<int(signed=True):chat_id>/bans")
@tag(["chats"])
@responds(BanPage, errors=(403, 404))
@query(PageQuery)
async def bans(chat_id: int, query_args: PageQuery) -> dict[str, Any]:
    """The bans in force, by user id; the group's owner or admins."""
    page = await services().moderation.bans(
        user_id=principal().user_id, chat_id=chat_id, cursor=query_args.cursor, limit=query_args.limit
    )
    return page.body()


@bp.put("/chats/<int(signed=True):chat_id>/members/<int(signed=True):user_id>/mute")
@tag(["chats"])
@responds(Chat, errors=(403, 404))
@body(MuteIn)
async def mute(chat_id: int, user_id: int, data: MuteIn) -> dict[str, Any]:
    """A group's owner, or an admin over a plain member: the member reads but cannot send,
    edit or react until `until` (their attempts answer 403 with `details.until`); a time
    already past lifts the mute. Shown on the Chat as the member's `send_blocked_until`."""
    return await services().moderation.mute(
        user_id=principal().user_id, chat_id=chat_id, target_id=user_id, until=data.until
    )
