"""A webhook's delivery state: the lease of the run sending, the batch in flight, the
outcome of each attempt, and the deliveries log."""

from __future__ import annotations

import uuid
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import Row, execute, fetch, fetchrow

DELIVERIES_KEPT = 200  # attempts kept per bot for GET /bots/{id}/webhook/deliveries


async def set_url(bot_id: int, url: str | None, conn: BaseDBAsyncClient) -> None:
    """A new URL starts sending at once (from the cursor kept); null stops it."""
    await execute(
        """UPDATE webhooks SET url = $2, attempt = 0, delivery_id = NULL, batch_last = NULL, next_attempt_at = now(),
                  failing_since = NULL, last_error = NULL
           WHERE bot_id = $1""",
        bot_id,
        url,
        conn=conn,
    )


async def set_enabled(bot_id: int, enabled: bool, reason: str | None, conn: BaseDBAsyncClient) -> None:
    """Enabling resumes from the cursor at once; disabling keeps the cursor."""
    await execute(
        """UPDATE webhooks SET enabled = $2, disabled_reason = $3, attempt = 0, next_attempt_at = now(),
                  failing_since = CASE WHEN $2 THEN NULL ELSE failing_since END
           WHERE bot_id = $1""",
        bot_id,
        enabled,
        reason,
        conn=conn,
    )


async def set_secret(bot_id: int, secret: str, conn: BaseDBAsyncClient) -> None:
    await execute("UPDATE webhooks SET secret = $2 WHERE bot_id = $1", bot_id, secret, conn=conn)


async def rewind(bot_id: int, inbox_seq: int, conn: BaseDBAsyncClient) -> None:
    """Start again after inbox_seq; the batch in flight is dropped (a new delivery id)."""
    await execute(
        """UPDATE webhooks SET cursor = $2, attempt = 0, delivery_id = NULL, batch_last = NULL, next_attempt_at = now()
           WHERE bot_id = $1""",
        bot_id,
        inbox_seq,
        conn=conn,
    )


async def lease(bot_id: int, token: uuid.UUID, seconds: float) -> Row | None:
    """Take the webhook for one attempt if it is on, due, has events after its cursor and no
    other run holds it; its state with the user's last inbox_seq (`head`)."""
    return await fetchrow(
        """UPDATE webhooks w SET lease_token = $2, lease_until = now() + make_interval(secs => $3)
           FROM users u
           WHERE w.bot_id = $1 AND u.id = w.bot_id AND w.enabled AND w.url IS NOT NULL AND w.next_attempt_at <= now()
             AND (w.lease_until IS NULL OR w.lease_until < now()) AND u.inbox_seq > w.cursor
           RETURNING w.bot_id, w.url, w.secret, w.cursor, w.delivery_id, w.batch_last, w.attempt, w.failing_since,
                     u.inbox_seq AS head""",
        bot_id,
        token,
        seconds,
    )


async def due_in(bot_id: int) -> float | None:
    """Seconds until an enabled webhook with events waiting is due (0: now), or None when
    there is nothing for it to do or another run holds it."""
    row = await fetchrow(
        """SELECT greatest(extract(epoch FROM w.next_attempt_at - now()), 0)::float8 AS wait FROM webhooks w
           JOIN users u ON u.id = w.bot_id
           WHERE w.bot_id = $1 AND w.enabled AND w.url IS NOT NULL AND u.inbox_seq > w.cursor
             AND (w.lease_until IS NULL OR w.lease_until < now())""",
        bot_id,
    )
    return float(row["wait"]) if row else None


async def start_batch(bot_id: int, token: uuid.UUID, delivery_id: uuid.UUID, last: int) -> None:
    """Name the batch before its first attempt, so every retry sends it under the same id."""
    await execute(
        "UPDATE webhooks SET delivery_id = $3, batch_last = $4, attempt = 0 WHERE bot_id = $1 AND lease_token = $2",
        bot_id,
        token,
        delivery_id,
        last,
    )


async def succeeded(bot_id: int, token: uuid.UUID, *, cursor_was: int, last: int) -> bool:
    """Move the cursor past the batch and free the lease; False when the lease was lost or the
    owner rewound meanwhile (the cursor is then theirs)."""
    row = await fetchrow(
        """UPDATE webhooks SET cursor = $4, delivery_id = NULL, batch_last = NULL, attempt = 0, next_attempt_at = now(),
                  failing_since = NULL, last_error = NULL, last_success_at = now(), lease_token = NULL, lease_until = NULL
           WHERE bot_id = $1 AND lease_token = $2 AND cursor = $3 RETURNING bot_id""",
        bot_id,
        token,
        cursor_was,
        last,
    )
    return row is not None


async def failed(
    bot_id: int, token: uuid.UUID, *, attempt: int, error: str, retry_at: datetime, disable_after: float
) -> Row | None:
    """Record a failed attempt and when to try again; past `disable_after` seconds without a
    success the webhook is disabled. (disabled, owner id), or None when the lease was lost."""
    return await fetchrow(
        """UPDATE webhooks w SET attempt = $3, last_error = $4::text, next_attempt_at = $5,
                  failing_since = coalesce(w.failing_since, now()), lease_token = NULL, lease_until = NULL,
                  enabled = coalesce(w.failing_since, now()) > now() - make_interval(secs => $6),
                  disabled_reason = CASE WHEN coalesce(w.failing_since, now()) > now() - make_interval(secs => $6)
                                         THEN NULL ELSE 'No successful delivery for ' || $6::int || ' s; last error: ' || $4::text END
           FROM users u WHERE w.bot_id = $1 AND u.id = w.bot_id AND w.lease_token = $2
           RETURNING NOT w.enabled AS disabled, u.bot_owner_id AS owner_id""",
        bot_id,
        token,
        attempt,
        error[:300],
        retry_at,
        disable_after,
    )


async def release(bot_id: int, token: uuid.UUID) -> None:
    await execute(
        "UPDATE webhooks SET lease_token = NULL, lease_until = NULL WHERE bot_id = $1 AND lease_token = $2", bot_id, token
    )


async def log_attempt(
    *, bot_id: int, delivery_id: uuid.UUID, first: int, last: int, attempt: int, status: int | None,
    duration_ms: int, error: str | None,
) -> None:  # fmt: skip
    """Append to the deliveries log, keeping the latest DELIVERIES_KEPT of the bot."""
    await execute(
        f"""WITH added AS (
                INSERT INTO webhook_deliveries (bot_id, delivery_id, first_inbox_seq, last_inbox_seq, attempt, status,
                                                duration_ms, error, at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now()) RETURNING id)
            DELETE FROM webhook_deliveries WHERE bot_id = $1 AND id <= (
                SELECT id FROM webhook_deliveries WHERE bot_id = $1 ORDER BY id DESC OFFSET {DELIVERIES_KEPT - 1} LIMIT 1)""",
        bot_id,
        delivery_id,
        first,
        last,
        attempt,
        status,
        duration_ms,
        error,
    )


async def deliveries(bot_id: int, *, before_id: int | None, limit: int) -> list[Row]:
    return await fetch(
        """SELECT id, delivery_id, first_inbox_seq, last_inbox_seq, attempt, status, duration_ms, error, at
           FROM webhook_deliveries WHERE bot_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3""",
        bot_id,
        before_id,
        limit,
    )


async def due(limit: int) -> list[int]:
    """Bots whose webhook is on, due and has events after its cursor, with no live lease: what
    the sweep enqueues (a job lost to a Redis wipe, or woken while another ran)."""
    rows = await fetch(
        """SELECT w.bot_id FROM webhooks w JOIN users u ON u.id = w.bot_id
           WHERE w.enabled AND w.url IS NOT NULL AND w.next_attempt_at <= now() AND u.inbox_seq > w.cursor
             AND (w.lease_until IS NULL OR w.lease_until < now())
           ORDER BY w.next_attempt_at LIMIT $1""",
        limit,
    )
    return [row["bot_id"] for row in rows]


async def lag(limit: int) -> list[int]:
    """Events waiting per enabled webhook (largest first): the cursor-lag histogram's samples."""
    rows = await fetch(
        """SELECT u.inbox_seq - w.cursor AS lag FROM webhooks w JOIN users u ON u.id = w.bot_id
           WHERE w.enabled AND w.url IS NOT NULL ORDER BY lag DESC LIMIT $1""",
        limit,
    )
    return [int(row["lag"]) for row in rows]
