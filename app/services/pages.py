"""Opaque page cursors: base64 of a small JSON object, validated on the way back in."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from app.errors import field_error
from app.ids import MAX_ID, is_bigint


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None

    def body(self) -> dict[str, Any]:
        return {"items": self.items, "next_cursor": self.next_cursor}


def encode_cursor(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """The object an issued cursor holds (None for no cursor); 422 on `cursor` for anything else."""
    if not cursor:
        return None
    try:
        value = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(value, dict) or not all(_plain(v) for v in value.values()):
            raise ValueError
        return value
    except ValueError:
        raise _not_issued() from None


def _plain(value: Any) -> bool:
    """What issued cursors hold: null, a bigint, or text PostgreSQL can store (no NUL).
    Anything else (floats, booleans, nested values, huge numbers) is refused here, before a
    service could pass it on to the database."""
    if value is None:
        return True
    if type(value) is int:
        return is_bigint(value)
    return isinstance(value, str) and len(value) <= 256 and "\x00" not in value


# Reading one field of a cursor: the value as the service uses it, or ValueError. A field
# missing from the cursor reads as None.
FieldReader = Callable[[Any], Any]


def read_cursor(cursor: str | None, fields: Mapping[str, FieldReader]) -> dict[str, Any] | None:
    """The one way a service reads its cursor back: `decode_cursor`, then each named field
    through its reader; None for no cursor, 422 on `cursor` when any field is not what the
    service issued. Fields not named are ignored."""
    value = decode_cursor(cursor)
    if value is None:
        return None
    try:
        return {name: read(value.get(name)) for name, read in fields.items()}
    except (TypeError, ValueError, OverflowError):
        raise _not_issued() from None


def seq_field(value: Any) -> int:
    """A position or id: an integer 0..MAX_ID."""
    if type(value) is not int or not 0 <= value <= MAX_ID:
        raise ValueError(value)
    return value


def text_field(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(value)
    return value


def time_field(value: Any) -> datetime:
    """An aware ISO time, as UTC. Issued cursors carry an aware UTC time; one that is naive,
    or that leaves the year 1..9999 once in UTC, would fail in PostgreSQL or asyncpg."""
    moment = datetime.fromisoformat(text_field(value))
    if moment.tzinfo is None:
        raise ValueError(value)
    return moment.astimezone(UTC)


def optional(read: FieldReader) -> FieldReader:
    """A field that may be absent or null."""
    return lambda value: None if value is None else read(value)


def _not_issued() -> Exception:
    return field_error("cursor", "Not a cursor this server issued.")
