"""Scheduled messages: the author's pending ones (POST /messages with send_at makes them)."""

from __future__ import annotations

from typing import Any

from quart_schema import tag

from app.api.responses import Scheduled, ScheduledPage
from app.api.schemas import ScheduledChangeIn, ScheduledQuery
from app.api.validation import authenticated_blueprint, body, principal, query, responds, services

bp = authenticated_blueprint("scheduled", url_prefix="/scheduled")


@bp.get("")
@tag(["messages"])
@responds(ScheduledPage)
@query(ScheduledQuery)
async def list_scheduled(query_args: ScheduledQuery) -> dict[str, Any]:
    """The caller's pending scheduled messages (of one chat with `chat_id`), soonest first."""
    page = await services().scheduled.list(
        author_id=principal().user_id, chat_id=query_args.chat_id, cursor=query_args.cursor, limit=query_args.limit
    )
    return page.body()


@bp.patch("/<int(signed=True):scheduled_id>")
@tag(["messages"])
@responds(Scheduled, errors=(404,))
@body(ScheduledChangeIn)
async def update_scheduled(scheduled_id: int, data: ScheduledChangeIn) -> dict[str, Any]:
    """Change `content` and/or `send_at` while it is pending; the author only."""
    return await services().scheduled.update(author_id=principal().user_id, scheduled_id=scheduled_id, changes=data.changes())


@bp.delete("/<int(signed=True):scheduled_id>")
@tag(["messages"])
@responds(None, 204, errors=(404,))
async def delete_scheduled(scheduled_id: int) -> tuple[str, int]:
    await services().scheduled.delete(author_id=principal().user_id, scheduled_id=scheduled_id)
    return "", 204
