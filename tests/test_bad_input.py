"""Input that passed validation but that PostgreSQL cannot hold (NUL in
text, numbers beyond bigint, dates outside what it or asyncpg can convert) answers 422
`validation_error` in the error envelope, on every route and frame, never 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import websockets

from tests.support.checks import assert_envelope, fields_named
from tests.support.clients import Device, direct_chat, make_user, send

HUGE = "99999999999999999999"  # beyond bigint


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "position",
    [
        {"t": "9999-12-31T23:59:59-05:00", "id": 1},  # after 9999-12-31 once in UTC
        {"t": "0001-01-01T00:00:00+05:00", "id": 1},  # before year 1 once in UTC
        {"t": "2026-01-01T00:00:00", "id": 1},  # naive: never issued
        {"t": "2026-01-01T00:00:00+00:00", "id": 2**63},
        {"t": "2026-01-01T00:00:00+00:00", "id": 1.5},
        {"t": "2026-01-01T00:00:00+00:00", "id": True},
        {"t": "2026\x00-01-01", "id": 1},
        {"t": ["x"], "id": 1},
    ],
)
async def test_chats_cursor_out_of_range_is_a_422(http, position):
    alice = await make_user(http)
    r = await http.get("/chats", params={"cursor": _cursor(position)}, headers=alice.headers)
    assert fields_named(assert_envelope(r, 422, "validation_error")) == {"cursor"}


async def test_messages_cursor_with_odd_values_is_a_422(http):
    alice, bob = await make_user(http), await make_user(http)
    chat = await direct_chat(http, alice, bob)
    for position in ({"b": 1e300}, {"b": 2**64}, {"a": "1\x00"}, {"b": {"x": 1}}):
        r = await http.get("/messages", params={"chat_id": chat["id"], "cursor": _cursor(position)}, headers=alice.headers)
        assert fields_named(assert_envelope(r, 422, "validation_error")) == {"cursor"}, position


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", f"/chats/{HUGE}"),
        ("GET", f"/chats/-{HUGE}"),
        ("POST", f"/chats/{HUGE}/members"),
        ("DELETE", f"/chats/1/members/{HUGE}"),
        ("PATCH", f"/messages/{HUGE}/edit"),
        ("DELETE", f"/messages/{HUGE}/delete"),
        ("GET", f"/messages/{HUGE}/receipts"),
        ("GET", f"/users/{HUGE}"),
    ],
)
async def test_path_ids_beyond_bigint_name_nothing(http, method, path):
    """An id no bigint can hold names nothing that exists: 404 as for any missing id (the
    contract's rule), decided before PostgreSQL is asked; and 401 first without a token."""
    alice = await make_user(http)
    body = {"user_ids": [1]} if path.endswith("/members") else {"content": "x"} if path.endswith("/edit") else None
    assert_envelope(await http.request(method, path, json=body, headers=alice.headers), 404, "not_found")
    assert_envelope(await http.request(method, path, json=body), 401, "unauthorized")


async def test_ws_device_id_with_nul_is_a_422_not_a_500(http, cluster):
    alice = await make_user(http)
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"{cluster.api.ws_url}?device_id=ab%00cd", additional_headers=alice.headers)
    assert refused.value.response.status_code == 422
    body = json.loads(refused.value.response.body)
    assert body["error"]["code"] == "validation_error" and body["error"]["details"][0]["field"] == "device_id"


async def test_ws_frames_with_values_postgres_cannot_hold_get_validation_errors(http, cluster):
    alice, bob = await make_user(http), await make_user(http)
    chat = await direct_chat(http, alice, bob)
    message = await send(http, alice, chat["id"], "hello")
    device = await Device.connect(cluster.api.ws_url, alice, "a")
    frames = [
        ("message", {"chat_id": chat["id"], "content": "a\x00b", "client_msg_id": "n1"}),
        ("message", {"chat_id": chat["id"], "content": "fine", "client_msg_id": "id\x00"}),
        ("message", {"chat_id": int(HUGE), "content": "x", "client_msg_id": "n2"}),
        ("edit_message", {"message_id": message["id"], "content": "\x00"}),
        ("read", {"chat_id": chat["id"], "up_to_seq": int(HUGE)}),
        ("read", {"chat_id": chat["id"], "message_ids": [int(HUGE)]}),
        ("typing", {"chat_id": int(HUGE)}),
        ("ack", {"inbox_seq": -1}),
        ("sync", {"since_inbox_seq": int(HUGE)}),
    ]
    for i, (kind, data) in enumerate(frames):
        await device.send(kind, data, ref=str(i))
        error = await device.next("error")
        assert error["ref"] == str(i) and error["data"]["code"] == "validation_error", (kind, error)
    await device.close()
