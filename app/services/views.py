"""The contract's bodies, built from storage rows: one pure function per body, shared by
REST, WebSocket and the worker. No queries here; services read the rows and call these."""

from __future__ import annotations

import uuid
from typing import Any

from app.jsonutil import iso


def message_body(row: dict[str, Any]) -> dict[str, Any]:
    """`Message`: a deleted message keeps its place with empty content."""
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
    }


def chat_body(
    row: dict[str, Any],
    *,
    members: list[dict[str, Any]],
    last_message: dict[str, Any] | None,
    unread_count: int,
) -> dict[str, Any]:
    """`Chat` as one viewer sees it; members and last_message are bodies already."""
    return {
        "id": row["id"],
        "type": row["type"],
        "title": row["title"],
        "created_at": iso(row["created_at"]),
        "members": members,
        "last_message": last_message,
        "last_seq": row["last_seq"],
        "unread_count": unread_count,
    }


def member_body(row: dict[str, Any]) -> dict[str, Any]:
    """One entry of a `Chat`'s members."""
    return {"user_id": row["user_id"], "username": row["username"], "role": row["role"]}


def public_user(row: dict[str, Any]) -> dict[str, Any]:
    """The user's own account (with the email): only ever shown to that user."""
    return {
        "id": row["id"],
        "username": row["username"],
        "email": row["email"],
        "is_active": row["is_active"],
        "created_at": iso(row["created_at"]),
    }


def public_profile(row: dict[str, Any], online: bool | None) -> dict[str, Any]:
    """Another user's profile, never with the email. online None: the viewer may not see this
    user's presence (both fields null)."""
    last_seen_at = iso(row["last_seen_at"]) if online is not None else None
    return {"id": row["id"], "username": row["username"], "online": online, "last_seen_at": last_seen_at}


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
