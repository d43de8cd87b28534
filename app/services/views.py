"""The contract's bodies, built from storage rows: one pure function per body, shared by
REST, WebSocket and the worker. No queries here; services read the rows and call these."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from app.jsonutil import iso, loads


def hide_early_preview(reply_to: dict[str, Any] | None, hidden_before: int) -> dict[str, Any] | None:
    """A reply's `reply_to` with no preview when its original is at or before seq
    `hidden_before`; the same object otherwise."""
    if reply_to and reply_to["seq"] <= hidden_before:
        return {**reply_to, "preview": ""}
    return reply_to


def message_body(row: dict[str, Any], viewer: int, *, hidden_before: int = 0) -> dict[str, Any]:
    """`Message` as `viewer` sees it (`reactions[].me`): a deleted message keeps its place with
    empty content; a reply to a message at or before seq `hidden_before` (the viewer joined a
    chat whose history is hidden after it) shows no preview."""
    reactions = _json(row["reactions"])
    reply_to = hide_early_preview(_json(row["reply_to"]), hidden_before)
    return {
        "id": row["id"],
        "chat_id": row["chat_id"],
        "seq": row["seq"],
        "sender_id": row["sender_id"],
        "client_msg_id": row["client_msg_id"],
        "content": "" if row["is_deleted"] else row["content"],
        "created_at": iso(row["created_at"]),
        "edited_at": iso(row["edited_at"]),
        "is_deleted": row["is_deleted"],
        "delivered_at": iso(row["delivered_at"]),
        "read_at": iso(row["read_at"]),
        "reply_to": reply_to,
        "mentions": list(row["mentions"]),
        "reactions": reactions_body(reactions, viewer),
        "attachments": [] if row["is_deleted"] else [attachment_body(a) for a in _json(row["attachments"])],
        "pinned": row["pinned_at"] is not None,
        "expires_at": iso(row["expires_at"]),
    }


def attachment_body(row: dict[str, Any]) -> dict[str, Any]:
    """`Attachment`, from its row or the object message reads build (app/storage/messages.py)."""
    base = f"/attachments/{row['id']}"
    has_thumbnail = row["has_thumbnail"] if "has_thumbnail" in row else row["thumbnail_key"] is not None
    return {
        "id": row["id"],
        "name": row["name"],
        "content_type": row["content_type"],
        "size": row["size"],
        "width": row["width"],
        "height": row["height"],
        "url": base,
        "thumbnail_url": f"{base}/thumbnail" if has_thumbnail else None,
    }


def reactions_body(reactions: list[dict[str, Any]], viewer: int) -> list[dict[str, Any]]:
    """Stored `[{emoji, user_ids}]` to the contract's `[{emoji, count, me}]`, order kept."""
    return [{"emoji": r["emoji"], "count": len(r["user_ids"]), "me": viewer in r["user_ids"]} for r in reactions]


def viewer_independent(row: dict[str, Any]) -> bool:
    """True when every viewer gets the same body (no reactions to mark `me` on), so one
    rendering serves all the members a message goes to."""
    return not _json(row["reactions"])


def _json(value: Any) -> Any:
    # asyncpg hands jsonb over as text (the pool registers no codec).
    return loads(value) if isinstance(value, (str, bytes)) else value


def chat_body(
    row: dict[str, Any],
    *,
    members: list[dict[str, Any]],
    last_message: dict[str, Any] | None,
    unread_count: int,
    unread_mentions: int,
) -> dict[str, Any]:
    """`Chat` as one viewer sees it (row carries the viewer's own settings); members and
    last_message are bodies already."""
    return {
        "id": row["id"],
        "type": row["type"],
        "title": row["title"],
        "created_at": iso(row["created_at"]),
        "members": members,
        "last_message": last_message,
        "last_seq": row["last_seq"],
        "unread_count": unread_count,
        "unread_mentions": unread_mentions,
        "muted_until": iso(row["muted_until"]),
        "archived": row["archived"],
        "message_ttl": row["message_ttl"],
        "history_visible": row["history_visible"],
        "slow_mode": row["slow_mode"],
    }


def member_body(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """One entry of a `Chat`'s members; `send_blocked_until` while an admin's mute lasts."""
    blocked = row["send_blocked_until"]
    return {
        "user_id": row["user_id"],
        "username": row["username"],
        "role": row["role"],
        "send_blocked_until": iso(blocked) if blocked is not None and blocked > now else None,
    }


DELETED_NAME = "Deleted account"


def public_user(row: dict[str, Any]) -> dict[str, Any]:
    """The user's own account (with the email and the avatar's Attachment): only ever shown to
    that user."""
    avatar = _json(row.get("avatar"))
    return {
        "id": row["id"],
        "username": row["username"],
        "email": row["email"],
        "display_name": row["display_name"] or row["username"],
        "avatar": attachment_body(avatar) if avatar else None,
        "is_active": row["is_active"],
        "is_admin": row["is_admin"],
        "is_bot": row["is_bot"],
        "created_at": iso(row["created_at"]),
    }


def bot_body(row: dict[str, Any]) -> dict[str, Any]:
    """{bot, webhook} of GET /bots: the bot's account and its webhook (null without a URL),
    from storage/bots.py `owned`."""
    webhook = None
    if row["w_url"] is not None:
        webhook = {
            "url": row["w_url"],
            "enabled": row["w_enabled"],
            "cursor": row["w_cursor"],
            "pending": row["w_pending"],
            "last_success_at": iso(row["w_last_success_at"]),
            "last_error": row["w_last_error"],
            "disabled_reason": row["w_disabled_reason"],
        }
    return {"bot": public_user(row), "webhook": webhook}


def webhook_delivery_body(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "delivery_id": str(row["delivery_id"]),
        "first_inbox_seq": row["first_inbox_seq"],
        "last_inbox_seq": row["last_inbox_seq"],
        "attempt": row["attempt"],
        "status": row["status"],
        "duration_ms": row["duration_ms"],
        "error": row["error"],
        "at": iso(row["at"]),
    }


def public_profile(row: dict[str, Any], online: bool | None) -> dict[str, Any]:
    """Another user's profile, never with the email. online None: the viewer may not see this
    user's presence (both fields null). An erased account keeps only its id."""
    if row["deleted_at"] is not None:
        return {
            "id": row["id"],
            "username": None,
            "display_name": DELETED_NAME,
            "avatar_url": None,
            "online": None,
            "last_seen_at": None,
            "deleted": True,
            "is_bot": row["is_bot"],
        }
    last_seen_at = iso(row["last_seen_at"]) if online is not None else None
    return {
        "id": row["id"],
        "username": row["username"],
        "display_name": row["display_name"] or row["username"],
        "avatar_url": f"/attachments/{row['avatar_id']}" if row["avatar_id"] is not None else None,
        "online": online,
        "last_seen_at": last_seen_at,
        "deleted": False,
        "is_bot": row["is_bot"],
    }


def public_session(row: dict[str, Any], current: uuid.UUID) -> dict[str, Any]:
    """One of the user's sessions; `current` marks the one asking."""
    return {
        "id": str(row["id"]),
        "created_at": iso(row["created_at"]),
        "last_seen_at": iso(row["last_seen_at"]),
        "ip": row["ip"],
        "user_agent": row["user_agent"],
        "current": row["id"] == current,
    }


def scheduled_body(row: dict[str, Any]) -> dict[str, Any]:
    """`Scheduled`: a message waiting for its send_at (its author's view only)."""
    return {
        "id": row["id"],
        "chat_id": row["chat_id"],
        "content": row["content"],
        "reply_to_id": row["reply_to_id"],
        "attachment_ids": list(row["attachment_ids"]),
        "client_msg_id": row["client_msg_id"],
        "send_at": iso(row["send_at"]),
        "created_at": iso(row["created_at"]),
    }
