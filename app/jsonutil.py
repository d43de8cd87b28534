"""One JSON encoding for frames, Redis payloads and times (ISO 8601 UTC with `Z`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC)


def dumps_str(value: Any) -> str:
    return dumps(value).decode()


loads = orjson.loads
