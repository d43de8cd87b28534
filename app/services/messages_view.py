"""The `Message` body of the contract, shared by REST, WebSocket and the worker."""

from __future__ import annotations

from typing import Any

from app.jsonutil import iso


def message_body(row: dict[str, Any]) -> dict[str, Any]:
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
