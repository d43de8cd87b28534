"""Push subscriptions, and what a push job reads: the device cursors, the chat's unacked
message events, mute state and the unread badge, each in one query."""

from __future__ import annotations

from typing import Any

from app.db import Row, execute, fetch, fetchrow, fetchval

SUBSCRIPTION_COLUMNS = "id, user_id, device_id, kind, url, p256dh, auth, app_id, pushkey, created_at"


async def upsert(fields: dict[str, Any]) -> Row:
    """Insert, or replace the row registered for the same target (whoever held it)."""
    row = await fetchrow(
        f"""INSERT INTO push_subscriptions (user_id, device_id, kind, url, p256dh, auth, app_id, pushkey, target,
                                            session_id, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())
            ON CONFLICT (target) DO UPDATE SET user_id = EXCLUDED.user_id, device_id = EXCLUDED.device_id,
                kind = EXCLUDED.kind, url = EXCLUDED.url, p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth,
                app_id = EXCLUDED.app_id, pushkey = EXCLUDED.pushkey, session_id = EXCLUDED.session_id,
                created_at = now()
            RETURNING {SUBSCRIPTION_COLUMNS}""",
        fields["user_id"], fields["device_id"], fields["kind"], fields["url"], fields.get("p256dh"),
        fields.get("auth"), fields.get("app_id"), fields.get("pushkey"), fields["target"], fields["session_id"],
    )  # fmt: skip
    assert row is not None
    return row


async def list_for_user(user_id: int) -> list[Row]:
    return await fetch(f"SELECT {SUBSCRIPTION_COLUMNS} FROM push_subscriptions WHERE user_id = $1 ORDER BY id", user_id)


async def delete_own(user_id: int, subscription_id: int) -> bool:
    return await execute("DELETE FROM push_subscriptions WHERE id = $1 AND user_id = $2", subscription_id, user_id) > 0


async def delete(subscription_id: int) -> None:
    await execute("DELETE FROM push_subscriptions WHERE id = $1", subscription_id)


async def has_any(user_id: int) -> bool:
    return bool(await fetchval("SELECT EXISTS (SELECT 1 FROM push_subscriptions WHERE user_id = $1)", user_id))


async def users_with_subscriptions(user_ids: list[int] | None = None) -> list[int]:
    """Every user with a subscription (after a Redis restart), or those among `user_ids`."""
    if user_ids is None:
        rows = await fetch("SELECT DISTINCT user_id FROM push_subscriptions")
    else:
        rows = await fetch("SELECT DISTINCT user_id FROM push_subscriptions WHERE user_id = ANY($1::bigint[])", user_ids)
    return [int(row["user_id"]) for row in rows]


async def targets(user_id: int) -> list[Row]:
    """The user's subscriptions whose registering session is still live, each with its
    device's cursor (0 for a device that never connected: it has received nothing)."""
    return await fetch(
        """SELECT s.id, s.device_id, s.kind, s.url, s.p256dh, s.auth, s.app_id, s.pushkey, s.created_at,
                  COALESCE(d.acked_seq, 0) AS acked_seq
           FROM push_subscriptions s
           JOIN auth_sessions a ON a.id = s.session_id AND a.revoked_at IS NULL AND a.expires_at > now()
           LEFT JOIN devices d ON d.user_id = s.user_id AND d.device_id = s.device_id
           WHERE s.user_id = $1 ORDER BY s.id""",
        user_id,
    )


async def chat_state(user_id: int, chat_id: int) -> Row | None:
    """The member's mute and the chat's title and type; None when no longer a member."""
    return await fetchrow(
        """SELECT cm.muted_until > now() AS muted, c.type, c.title
           FROM chat_members cm JOIN chats c ON c.id = cm.chat_id
           WHERE cm.chat_id = $1 AND cm.user_id = $2""",
        chat_id,
        user_id,
    )


async def message_events(user_id: int, chat_id: int, from_seq: int) -> list[Row]:
    """The user's `message` events of the chat from `from_seq` on (through the inbox's
    (user_id, inbox_seq) index), with what a notification shows; deleted messages left out."""
    return await fetch(
        """SELECT e.inbox_seq, e.committed_at, m.id AS message_id, m.sender_id, m.content,
                  $1 = ANY(m.mentions) AS mentioned, coalesce(u.display_name, u.username, 'Deleted account') AS sender_name
           FROM inbox_events e
           JOIN messages m ON m.id = e.message_id
           JOIN users u ON u.id = m.sender_id
           WHERE e.user_id = $1 AND e.inbox_seq >= $3 AND e.chat_id = $2 AND e.type = 'message'
             AND NOT m.is_deleted AND m.sender_id <> $1
           ORDER BY e.inbox_seq""",
        user_id,
        chat_id,
        from_seq,
    )


async def unread_total(user_id: int) -> int:
    """Others' live messages after the user's read mark, over every chat: the badge."""
    return int(
        await fetchval(
            """SELECT count(*) FROM chat_members cm
               JOIN messages m ON m.chat_id = cm.chat_id AND m.seq > cm.read_seq
               WHERE cm.user_id = $1 AND m.sender_id <> $1 AND NOT m.is_deleted""",
            user_id,
        )
        or 0
    )
