"""The WebSocket frame-handler table (app/ws/handlers.py): every frame type the protocol
decodes has exactly one handler, typed for that type's data model, and handlers reach
storage only through services (here replaced by fakes, so no database is involved)."""

from __future__ import annotations

import typing
from types import SimpleNamespace
from typing import Any

import pytest

from app.ws import handlers, protocol
from app.ws.handlers import HANDLERS


def test_every_protocol_frame_type_has_exactly_one_handler() -> None:
    assert set(HANDLERS) == set(protocol.FRAME_DATA)


@pytest.mark.parametrize("kind", sorted(protocol.FRAME_DATA))
def test_each_handler_takes_its_frame_types_data_model(kind: str) -> None:
    hints = typing.get_type_hints(HANDLERS[kind])
    assert hints["data"] is protocol.FRAME_DATA[kind]


def test_handlers_module_reaches_no_storage() -> None:
    names = {getattr(value, "__module__", "") or getattr(value, "__name__", "") for value in vars(handlers).values()}
    assert not any(name.startswith("app.storage") for name in names)


class FakeServices:
    def __init__(self, *, allowed: bool) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.presence = SimpleNamespace(typing_allowed=self._record("typing_allowed", allowed))
        self.chats = SimpleNamespace(typing_audience=self._record("typing_audience", [2, 3]))
        self.messages = SimpleNamespace(
            send=self._record("send", ({"id": 9}, True)),
            edit=self._record("edit", {"id": 9}),
            delete=self._record("delete", {"id": 9}),
        )

    def _record(self, name: str, result: Any) -> Any:
        async def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return result

        return call


def session(*, allowed: bool = True, acked: bool = True) -> Any:
    published: list[tuple[list[int], dict[str, Any]]] = []
    noted: list[Any] = []
    submitted: list[dict[str, Any]] = []
    conn = SimpleNamespace(user_id=1, ack=lambda seq: acked, restart_from=lambda seq: None)

    async def publish_ephemeral(user_ids: list[int], frame: dict[str, Any]) -> None:
        published.append((user_ids, frame))

    return SimpleNamespace(
        conn=conn,
        is_bot=False,
        services=FakeServices(allowed=allowed),
        node=SimpleNamespace(publish_ephemeral=publish_ephemeral, note_ack=noted.append),
        reads=SimpleNamespace(submit=lambda **kwargs: submitted.append(kwargs)),
        published=published,
        noted=noted,
        submitted=submitted,
    )


async def test_a_message_frame_is_sent_over_ws_and_acked_with_the_message() -> None:
    s = session()
    data = protocol.SendData(chat_id=5, content="hi", client_msg_id="c1", reply_to_id=4)
    assert await HANDLERS["message"](s, data, "r1") == {"type": "message_ack", "data": {"message": {"id": 9}}}
    assert s.services.calls == [("send", {"sender_id": 1, "draft": data, "transport": "ws", "is_bot": False, "turn": None})]


async def test_typing_goes_to_the_other_members_the_chat_service_names() -> None:
    s = session()
    assert await HANDLERS["typing"](s, protocol.TypingData(chat_id=5), None) is None
    assert [name for name, _ in s.services.calls] == ["typing_allowed", "typing_audience"]
    assert s.published == [([2, 3], {"type": "typing", "data": {"chat_id": 5, "user_id": 1}})]


async def test_typing_past_the_limit_costs_no_membership_check() -> None:
    s = session(allowed=False)
    await HANDLERS["typing"](s, protocol.TypingData(chat_id=5), None)
    assert [name for name, _ in s.services.calls] == ["typing_allowed"] and s.published == []


async def test_a_read_frame_is_queued_with_its_ref_and_answered_later() -> None:
    s = session()
    assert await HANDLERS["read"](s, protocol.ReadData(chat_id=5, up_to_seq=3), "r2") is None
    assert s.submitted == [{"chat_id": 5, "up_to_seq": 3, "message_ids": None, "ref": "r2"}]


@pytest.mark.parametrize("acked", [True, False])
async def test_an_ack_that_moves_the_cursor_is_noted(acked: bool) -> None:
    s = session(acked=acked)
    assert await HANDLERS["ack"](s, protocol.AckData(inbox_seq=4), None) is None
    assert s.noted == ([s.conn] if acked else [])


async def test_pong_and_sync_reply_nothing() -> None:
    s = session()
    assert await HANDLERS["pong"](s, protocol.EmptyData(), None) is None
    assert await HANDLERS["sync"](s, protocol.SyncData(since_inbox_seq=0), None) is None
