"""The envelopes on Redis pub/sub (app/realtime/envelopes.py): each kind comes back from its
bytes as it went in, and anything that is not one of them (another version's kind during a
rolling deploy, the pre-envelope dicts, garbage) is refused with UnknownEnvelope, which the
node logs and skips instead of ending its subscriber loop."""

from __future__ import annotations

import logging

import orjson
import pytest

from app.realtime import envelopes
from app.realtime.envelopes import (
    Ephemeral,
    InboxEvents,
    InboxFrame,
    InstanceBatch,
    Replay,
    Replays,
    SessionRevoked,
    UnknownEnvelope,
    decode,
)

FRAME = InboxFrame(seq=7, type="message", text='{"type":"message","data":{"inbox_seq":7}}', committed_at=1700000000.25)
OTHER = InboxFrame(seq=8, type="receipt", text='{"type":"receipt","data":{"inbox_seq":8}}', committed_at=None)


@pytest.mark.parametrize(
    "envelope",
    [
        InstanceBatch(
            events=[InboxEvents(user_id=42, frames=[FRAME, OTHER], published_at=1700000001.5), InboxEvents(user_id=1, frames=[])],
            ephemerals=[],
        ),
        InstanceBatch(events=[], ephemerals=[Ephemeral(user_id=9, text='{"type":"typing","data":{"chat_id":3,"user_id":4}}')]),
        Replays(
            replays=[
                Replay(conn="c1", user_id=42, after=6, frames=[FRAME, OTHER], resync_to=None, complete=True),
                Replay(conn="c2", user_id=43, after=0, frames=[], resync_to=120, complete=False),
            ]
        ),
        Replays(replays=[]),
        SessionRevoked(session_id="0f8fad5b-d9cb-469f-a165-70867728950e"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_envelopes_round_trip_through_bytes(envelope: envelopes.Envelope) -> None:
    data = envelope.encode()
    assert isinstance(data, bytes)
    assert orjson.loads(data)["kind"] == envelope.kind
    assert decode(data) == envelope


def test_envelope_kinds_are_distinct() -> None:
    kinds = [InstanceBatch.kind, Replays.kind, SessionRevoked.kind]
    assert len(set(kinds)) == len(kinds)


def test_inbox_frame_text_travels_unchanged() -> None:
    """A gateway sends the worker's rendering as it is: no re-encoding on the way."""
    (events,) = decode(InstanceBatch(events=[InboxEvents(user_id=1, frames=[FRAME])], ephemerals=[]).encode()).events  # type: ignore[union-attr]
    (frame,) = events.frames
    assert frame.text == FRAME.text


@pytest.mark.parametrize(
    "data",
    [
        orjson.dumps({"kind": "events-v2", "user_id": 1, "frames": []}),  # a newer version's kind
        orjson.dumps({"events": [], "published_at": 1.0}),  # the dicts before envelopes
        orjson.dumps({"ephemeral": {"type": "typing"}}),
        b"0f8fad5b-d9cb-469f-a165-70867728950e",  # a bare session id, as revocations once were
        b"1",
        b"not json",
        orjson.dumps({"kind": "events", "user_id": 1}),  # a known kind missing its fields
    ],
)
def test_decode_refuses_what_is_not_an_envelope(data: bytes) -> None:
    with pytest.raises(UnknownEnvelope):
        decode(data)


async def test_node_skips_an_unknown_kind_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """The subscriber's handler returns normally on an unknown kind (the broker's read loop
    goes on to the next message) and says why in the log."""
    from app.realtime.node import Node

    node = Node.__new__(Node)  # no Redis needed: _on_message only decodes and looks at the hub
    with caplog.at_level(logging.WARNING, logger="app.realtime.node"):
        await node._on_message("mc:6:user:1", orjson.dumps({"kind": "from-the-future"}))
    assert any("unknown pub/sub message" in record.getMessage() for record in caplog.records)
