"""Rendering: the contract's `Message` body (app/services/views.py) and inbox events as
they travel from worker to gateway (app/realtime/envelopes.py). Rendered frames are checked
against /asyncapi.json's schemas, as every frame a system test receives is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson

from app.errors import NotFound
from app.realtime.envelopes import InboxFrame
from app.services.views import chat_body, member_body, message_body, public_profile, public_user
from app.ws.protocol import error_frame
from tests.support.frames import frame_errors

CREATED = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def row(**changes: object) -> dict:  # type: ignore[type-arg]
    base = {
        "id": 10, "chat_id": 2, "seq": 7, "sender_id": 1, "client_msg_id": "c-1", "content": "hello",
        "created_at": CREATED, "edited_at": None, "is_deleted": False, "delivered_at": None, "read_at": None,
        "reply_to_id": None, "reply_to": None, "mentions": [], "reactions": "[]", "pinned_at": None, "attachments": "[]", "expires_at": None,
        "some_column_the_contract_does_not_have": 1,
    }  # fmt: skip
    base.update(changes)
    return base


def test_message_body_has_exactly_the_contract_fields_with_iso_times() -> None:
    body = message_body(row(), 1)
    assert body == {
        "id": 10, "chat_id": 2, "seq": 7, "sender_id": 1, "client_msg_id": "c-1", "content": "hello",
        "created_at": "2026-01-02T03:04:05.678Z", "edited_at": None, "is_deleted": False,
        "delivered_at": None, "read_at": None, "reply_to": None, "mentions": [], "reactions": [],
        "attachments": [], "pinned": False, "expires_at": None,
    }  # fmt: skip


def test_reactions_render_counts_in_stored_order_and_me_per_viewer() -> None:
    stored = '[{"emoji": "\U0001f44d", "user_ids": [1, 2]}, {"emoji": "\u2764\ufe0f", "user_ids": [3]}]'
    reply = '{"id": 4, "seq": 2, "sender_id": 3, "preview": "earlier"}'
    source = row(reactions=stored, reply_to=reply, mentions=[2, 3], pinned_at=CREATED)
    assert message_body(source, 3)["reactions"] == [
        {"emoji": "\U0001f44d", "count": 2, "me": False},
        {"emoji": "\u2764\ufe0f", "count": 1, "me": True},
    ]
    body = message_body(source, 2)
    assert [r["me"] for r in body["reactions"]] == [True, False]
    assert body["reply_to"] == {"id": 4, "seq": 2, "sender_id": 3, "preview": "earlier"}
    assert body["mentions"] == [2, 3] and body["pinned"] is True
    assert frame_errors({"type": "message", "data": {"inbox_seq": 1, "message": body}}) == []


def test_a_deleted_message_renders_with_empty_content() -> None:
    body = message_body(row(is_deleted=True, content="secret"), 1)
    assert body["content"] == "" and body["is_deleted"] is True


def test_message_times_in_other_zones_render_as_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    body = message_body(row(edited_at=datetime(2026, 1, 2, 5, 0, tzinfo=plus2), read_at=CREATED), 1)
    assert body["edited_at"] == "2026-01-02T03:00:00.000Z"
    assert body["read_at"] == "2026-01-02T03:04:05.678Z"


def test_a_rendered_message_event_is_a_valid_server_frame() -> None:
    frame = {"type": "message", "data": {"inbox_seq": 5, "message": message_body(row(), 1)}}
    assert frame_errors(frame) == []
    assert frame_errors({"type": "message", "data": {"inbox_seq": 5, "message": {"id": 10}}}) != []  # the check can fail


def test_an_error_frame_is_a_valid_server_frame() -> None:
    assert frame_errors(error_frame(NotFound(), "r1")) == []


def test_inbox_frame_render_keeps_type_and_data_but_not_committed_at_in_the_text() -> None:
    rendered = {"type": "message", "data": {"inbox_seq": 9, "message": message_body(row(), 1)}, "committed_at": 1700000000.5}
    frame = InboxFrame.render(rendered)
    assert (frame.seq, frame.type, frame.committed_at) == (9, "message", 1700000000.5)
    sent = orjson.loads(frame.text)
    assert sent == {"type": "message", "data": rendered["data"]}  # what the device receives
    assert frame_errors(sent) == []


def test_inbox_frame_render_without_committed_at() -> None:
    frame = InboxFrame.render({"type": "typing", "data": {"inbox_seq": 1}})
    assert frame.committed_at is None


def test_inbox_frame_survives_the_redis_wire_format() -> None:
    frame = InboxFrame.render({"type": "message_deleted", "data": {"inbox_seq": 3, "message": None}, "committed_at": 1.25})
    wire = orjson.loads(orjson.dumps(frame.to_wire()))  # as published through Redis
    assert InboxFrame.from_wire(wire) == frame


def test_inbox_frame_from_wire_normalises_types() -> None:
    frame = InboxFrame.from_wire(["4", "message", "{}", None])
    assert frame.seq == 4 and isinstance(frame.seq, int)


def test_a_public_profile_never_has_the_email_and_hides_presence_it_may_not_show() -> None:
    user = {"id": 3, "username": "ann", "email": "a@x.org", "is_active": True, "is_admin": False, "is_bot": False,
            "display_name": None, "avatar_id": None, "deleted_at": None, "created_at": CREATED, "last_seen_at": CREATED}  # fmt: skip
    assert "email" in public_user(user) and public_user(user)["display_name"] == "ann"
    shown = {"id": 3, "username": "ann", "display_name": "ann", "avatar_url": None, "deleted": False, "is_bot": False}
    assert public_profile(user, True) == {**shown, "online": True, "last_seen_at": "2026-01-02T03:04:05.678Z"}
    assert public_profile(user, None) == {**shown, "online": None, "last_seen_at": None}


def test_an_erased_account_shows_only_its_id() -> None:
    user = {"id": 3, "username": None, "email": None, "is_active": False, "is_admin": False, "is_bot": False,
            "display_name": None, "avatar_id": None, "deleted_at": CREATED, "created_at": CREATED, "last_seen_at": CREATED}  # fmt: skip
    assert public_profile(user, True) == {
        "id": 3, "username": None, "display_name": "Deleted account", "avatar_url": None, "online": None,
        "last_seen_at": None, "deleted": True, "is_bot": False,
    }  # fmt: skip


def test_a_chat_body_has_exactly_the_contract_fields() -> None:
    chat = {"id": 2, "type": "group", "title": "t", "created_at": CREATED, "last_seq": 7, "extra": 1,
            "muted_until": CREATED, "archived": True, "message_ttl": None, "history_visible": True, "slow_mode": 30}  # fmt: skip
    members = [
        member_body({"user_id": 1, "username": "ann", "role": "owner", "chat_id": 2, "send_blocked_until": CREATED}, CREATED)
    ]
    body = chat_body(chat, members=members, last_message=None, unread_count=0, unread_mentions=0)
    assert set(body) == {
        "id", "type", "title", "created_at", "members", "last_message", "last_seq", "unread_count",
        "unread_mentions", "muted_until", "archived", "message_ttl", "history_visible", "slow_mode",
    }  # fmt: skip
    assert body["muted_until"] == "2026-01-02T03:04:05.678Z" and body["archived"] is True
    # A mute that is over (here: ends at the moment rendered) shows as none.
    assert body["members"] == [{"user_id": 1, "username": "ann", "role": "owner", "send_blocked_until": None}]
