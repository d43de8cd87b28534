"""Opaque page cursors: base64 of a small JSON object, validated on the way back in."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import orjson

from app.errors import field_error


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None

    def body(self) -> dict[str, Any]:
        return {"items": self.items, "next_cursor": self.next_cursor}


def encode_cursor(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        value = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(value, dict) or not all(_plain(v) for v in value.values()):
            raise ValueError
        return value
    except ValueError:
        raise field_error("cursor", "Not a cursor this server issued.") from None


def _plain(value: Any) -> bool:
    """What issued cursors hold: null, a bigint, or text PostgreSQL can store (no NUL).
    Anything else (floats, booleans, nested values, huge numbers) is refused here, before a
    service could pass it on to the database."""
    if value is None:
        return True
    if type(value) is int:
        return -(2**63) <= value < 2**63
    return isinstance(value, str) and len(value) <= 256 and "\x00" not in value
