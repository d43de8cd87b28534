"""Opaque page cursors (app/services/pages.py): what the server issues comes back intact, and
anything else is a 422 on the `cursor` field before it can reach a query."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import orjson
import pytest

from app.errors import ValidationFailed
from app.services.pages import Page, decode_cursor, encode_cursor, optional, read_cursor, seq_field, time_field


def forged(value: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


@pytest.mark.parametrize(
    "value",
    [
        {"seq": 42},
        {"before": 2**63 - 1, "id": -(2**63)},
        {"name": "ünïcödé ✓", "id": None},
        {"a": "x" * 256},
        {},
    ],
)
def test_an_issued_cursor_round_trips(value: dict) -> None:  # type: ignore[type-arg]
    cursor = encode_cursor(value)
    assert "=" not in cursor and "+" not in cursor and "/" not in cursor  # URL-safe, unpadded
    assert decode_cursor(cursor) == value


@pytest.mark.parametrize("cursor", [None, ""])
def test_no_cursor_means_the_first_page(cursor: str | None) -> None:
    assert decode_cursor(cursor) is None


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        forged([1, 2]),  # not an object
        forged({"seq": 1.5}),
        forged({"seq": True}),
        forged({"seq": [1]}),
        forged({"seq": {"n": 1}}),
        forged({"seq": 2**63}),
        forged({"seq": "1"})[:-3],  # truncated
        forged({"s": "x" * 257}),
        forged({"s": "a\x00b"}),
        base64.urlsafe_b64encode(b"\xff\xfe{").decode(),
    ],
)
def test_anything_the_server_did_not_issue_is_a_cursor_field_error(cursor: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        decode_cursor(cursor)
    assert info.value.details == [{"field": "cursor", "message": "Not a cursor this server issued."}]


def test_page_body_is_items_and_next_cursor() -> None:
    assert Page(items=[{"id": 1}], next_cursor="abc").body() == {"items": [{"id": 1}], "next_cursor": "abc"}
    assert Page(items=[], next_cursor=None).body() == {"items": [], "next_cursor": None}


def test_read_cursor_gives_each_named_field_through_its_reader() -> None:
    cursor = encode_cursor({"t": "2026-01-01T01:00:00+01:00", "id": 7, "extra": "ignored"})
    assert read_cursor(cursor, {"t": time_field, "id": seq_field}) == {
        "t": datetime(2026, 1, 1, tzinfo=UTC),
        "id": 7,
    }
    assert read_cursor(None, {"id": seq_field}) is None
    assert read_cursor(encode_cursor({"a": 3}), {"a": optional(seq_field), "b": optional(seq_field)}) == {"a": 3, "b": None}


@pytest.mark.parametrize(
    "value",
    [
        {"t": "2026-01-01T00:00:00", "id": 1},  # naive time
        {"t": "0001-01-01T00:00:00+01:00", "id": 1},  # leaves year 1 once in UTC
        {"t": 5, "id": 1},
        {"t": "2026-01-01T00:00:00+00:00"},  # missing id
        {"t": "2026-01-01T00:00:00+00:00", "id": -1},
        {"t": "2026-01-01T00:00:00+00:00", "id": "1"},
        {"t": "2026-01-01T00:00:00+00:00", "id": 2**63},
    ],
)
def test_read_cursor_refuses_a_field_the_service_did_not_issue(value: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValidationFailed) as info:
        read_cursor(forged(value), {"t": time_field, "id": seq_field})
    assert info.value.details == [{"field": "cursor", "message": "Not a cursor this server issued."}]
