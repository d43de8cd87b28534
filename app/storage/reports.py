"""Reports of messages to the server's administrators (table `reports`, migration 13)."""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import Row, fetch, fetchrow

REPORT_COLUMNS = """r.id, r.message_id, r.chat_id, r.reporter_id, r.sender_id, r.reason, r.comment, r.status,
    r.action, r.note, r.created_at, r.resolved_at, r.resolved_by"""


async def insert(
    *, message_id: int, chat_id: int, reporter_id: int, sender_id: int | None, reason: str, comment: str | None
) -> Row | None:
    """The new report; None when this reporter reported this message already."""
    return await fetchrow(
        f"""INSERT INTO reports AS r (message_id, chat_id, reporter_id, sender_id, reason, comment, status, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, 'open', now())
            ON CONFLICT (message_id, reporter_id) DO NOTHING RETURNING {REPORT_COLUMNS}""",
        message_id,
        chat_id,
        reporter_id,
        sender_id,
        reason,
        comment,
    )


async def of_reporter(message_id: int, reporter_id: int) -> Row | None:
    return await fetchrow(
        f"SELECT {REPORT_COLUMNS} FROM reports r WHERE r.message_id = $1 AND r.reporter_id = $2",
        message_id,
        reporter_id,
    )


async def get(report_id: int) -> Row | None:
    return await fetchrow(f"SELECT {REPORT_COLUMNS} FROM reports r WHERE r.id = $1", report_id)


async def lock(report_id: int, conn: BaseDBAsyncClient) -> Row | None:
    return await fetchrow(f"SELECT {REPORT_COLUMNS} FROM reports r WHERE r.id = $1 FOR UPDATE", report_id, conn=conn)


async def resolve(report_id: int, *, action: str, note: str | None, by: int, conn: BaseDBAsyncClient) -> Row:
    """Resolve the report and every other open report of the same message alike (one decision
    about one message); returns the report named."""
    row = await fetchrow(
        f"""WITH target AS (SELECT message_id FROM reports WHERE id = $1),
                 done AS (
                   UPDATE reports AS r SET status = 'resolved', action = $2, note = $3, resolved_by = $4,
                          resolved_at = now()
                   FROM target WHERE (r.id = $1 OR (r.message_id = target.message_id AND r.status = 'open'))
                   RETURNING {REPORT_COLUMNS})
            SELECT * FROM done WHERE id = $1""",
        report_id,
        action,
        note,
        by,
        conn=conn,
    )
    assert row is not None
    return row


async def page(*, status: str | None, before_id: int | None, limit: int) -> list[Row]:
    """Newest first (by id, through idx_reports_status_id); every status when status is None."""
    return await fetch(
        f"""SELECT {REPORT_COLUMNS} FROM reports r
            WHERE ($1::text IS NULL OR r.status = $1) AND ($2::bigint IS NULL OR r.id < $2)
            ORDER BY r.id DESC LIMIT $3""",
        status,
        before_id,
        limit,
    )


async def admin_ids() -> list[int]:
    """Every active server administrator (the audience of `admin_report`)."""
    rows = await fetch("SELECT id FROM users WHERE is_admin AND is_active AND deleted_at IS NULL")
    return [row["id"] for row in rows]
