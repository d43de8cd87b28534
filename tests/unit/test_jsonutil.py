"""The one JSON encoding (app/jsonutil.py): UTC times with `Z`, millisecond precision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.jsonutil import dumps, dumps_str, iso, loads


def test_iso_of_none_is_none() -> None:
    assert iso(None) is None


def test_iso_is_utc_with_z_and_milliseconds() -> None:
    assert iso(datetime(2026, 3, 4, 5, 6, 7, 891234, tzinfo=UTC)) == "2026-03-04T05:06:07.891Z"
    assert iso(datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)) == "2026-03-04T05:06:07.000Z"


def test_iso_converts_other_zones_to_utc() -> None:
    eastern = timezone(timedelta(hours=-5))
    assert iso(datetime(2026, 12, 31, 22, 30, tzinfo=eastern)) == "2027-01-01T03:30:00.000Z"


def test_dumps_writes_utc_and_naive_datetimes_with_z() -> None:
    assert dumps({"t": datetime(2026, 1, 1, 12, 0)}) == b'{"t":"2026-01-01T12:00:00Z"}'
    assert dumps({"t": datetime(2026, 1, 1, 12, 0, tzinfo=UTC)}) == b'{"t":"2026-01-01T12:00:00Z"}'


def test_dumps_keeps_the_offset_of_other_zones_which_is_why_bodies_use_iso() -> None:
    aware = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    assert dumps_str({"t": aware}) == '{"t":"2026-01-01T12:00:00+01:00"}'
    assert iso(aware) == "2026-01-01T11:00:00.000Z"


def test_dumps_str_is_compact_text_and_round_trips_through_loads() -> None:
    value = {"a": [1, 2.5, None, True], "b": "ünï ✓", "c": {"d": ""}}
    text = dumps_str(value)
    assert isinstance(text, str) and " " not in text.replace("ünï ✓", "")
    assert loads(text) == value
    assert loads(text.encode()) == value


def test_loads_refuses_what_is_not_json_with_a_value_error() -> None:
    with pytest.raises(ValueError):
        loads("{'a': 1}")
    with pytest.raises(ValueError):
        loads(b"\xff")
