"""Server administration routes: administrators only; everyone else gets 403 on every one of
them, whatever the request (the check runs before any input is looked at)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import StringConstraints
from quart_schema import tag

from app.api.responses import AccountPage, AdminReportPage, Message, Report, User
from app.api.schemas import PageQuery, ReportQuery, ResolveIn
from app.api.validation import authenticated_blueprint, body, principal, query, responds, services

bp = authenticated_blueprint("admin", url_prefix="/admin")


@bp.before_request
async def _administrators_only() -> None:
    await services().admin.require_admin(user_id=principal().user_id)


class AccountQuery(PageQuery):
    """A username, display name or email prefix (case-insensitive); every account without."""

    q: Annotated[str, StringConstraints(min_length=1, max_length=254)] | None = None


@bp.get("/users")
@tag(["admin"])
@responds(AccountPage, errors=(403,))
@query(AccountQuery)
async def users(query_args: AccountQuery) -> dict[str, Any]:
    """Accounts, deactivated ones too (erased ones are gone), by id, with their email and state."""
    page = await services().admin.users(query=query_args.q, cursor=query_args.cursor, limit=query_args.limit)
    return page.body()


@bp.post("/users/<int:user_id>/deactivate")
@tag(["admin"])
@responds(User, errors=(403, 404))
async def deactivate(user_id: int) -> dict[str, Any]:
    """Every session of the account is revoked and its sockets close with 4401; its logins
    answer 403 until reactivated. Idempotent; 422 for your own account."""
    return await services().admin.deactivate(admin_id=principal().user_id, user_id=user_id)


@bp.post("/users/<int:user_id>/reactivate")
@tag(["admin"])
@responds(User, errors=(403, 404))
async def reactivate(user_id: int) -> dict[str, Any]:
    """Logins work again. Idempotent."""
    return await services().admin.reactivate(user_id=user_id)


@bp.delete("/messages/<int:message_id>")
@tag(["admin"])
@responds(Message, errors=(403, 404))
async def delete_message(message_id: int) -> dict[str, Any]:
    """Moderation delete of any message, announced to its chat as `message_deleted`; idempotent."""
    return await services().admin.delete_message(admin_id=principal().user_id, message_id=message_id)


@bp.get("/reports")
@tag(["admin"])
@responds(AdminReportPage, errors=(403,))
@query(ReportQuery)
async def reports(query_args: ReportQuery) -> dict[str, Any]:
    """Reports of messages, newest first (`status`: open by default, resolved, or all), each
    with the reported message as it is now (null once gone)."""
    page = await services().reports.page(
        admin_id=principal().user_id,
        status=None if query_args.status == "all" else query_args.status,
        cursor=query_args.cursor,
        limit=query_args.limit,
    )
    return page.body()


@bp.post("/reports/<int(signed=True):report_id>/resolve")
@tag(["admin"])
@responds(Report, errors=(403, 404, 409))
@body(ResolveIn)
async def resolve(report_id: int, data: ResolveIn) -> dict[str, Any]:
    """Act on a report and close it with every other open report of the same message:
    `dismiss`; `delete_message` (the moderation delete, announced as `message_deleted`);
    `deactivate_sender` (sessions revoked, sockets 4401). 409 once resolved."""
    return await services().reports.resolve(
        admin_id=principal().user_id, report_id=report_id, action=data.action, note=data.note
    )
