"""What travels on Redis pub/sub between workers and gateways: typed envelopes, each with a
`kind`. Inbox events are rendered to the device's text once, in the worker, so a gateway
neither parses a message body nor encodes it again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from app.jsonutil import dumps, dumps_str, loads


@dataclass(frozen=True, slots=True)
class InboxFrame:
    seq: int  # the event's inbox_seq
    type: str
    text: str  # the frame exactly as the device receives it
    committed_at: float | None  # epoch seconds of the source commit (latency metrics)

    def to_wire(self) -> list[Any]:
        return [self.seq, self.type, self.text, self.committed_at]

    @classmethod
    def from_wire(cls, item: list[Any]) -> InboxFrame:
        seq, type_, text, committed_at = item
        return cls(seq=int(seq), type=str(type_), text=str(text), committed_at=committed_at)

    @classmethod
    def render(cls, frame: dict[str, Any]) -> InboxFrame:
        """From a rendered event {type, data: {inbox_seq, ...}, committed_at}."""
        return cls(
            seq=frame["data"]["inbox_seq"],
            type=frame["type"],
            text=dumps_str({"type": frame["type"], "data": frame["data"]}),
            committed_at=frame.get("committed_at"),
        )


# --- what travels on Redis pub/sub ----------------------------------------------------------
# Every message on a gateway's channels is one of the envelopes below, told apart by `kind`
# and carrying its own addressee (never parsed back out of the channel name). JSON through
# orjson; inbox frames keep their pre-rendered text.


class UnknownEnvelope(ValueError):
    """A payload that is not one of our envelopes (another version's kind, or garbage)."""


@dataclass(frozen=True, slots=True)
class InboxEvents:
    """Live inbox events for one user (part of an `InstanceBatch`), from a delivery worker to
    every gateway holding one of the user's sockets."""

    user_id: int
    frames: list[InboxFrame]
    published_at: float | None = None  # epoch seconds (publish-to-push latency)

    @classmethod
    def _from_wire(cls, message: dict[str, Any]) -> InboxEvents:
        return cls(
            user_id=int(message["user_id"]),
            frames=[InboxFrame.from_wire(item) for item in message["frames"]],
            published_at=message.get("published_at"),
        )


@dataclass(frozen=True, slots=True)
class Ephemeral:
    """A frame never stored nor replayed (typing, presence) for one user's sockets, rendered
    once by the publisher (part of an `InstanceBatch`)."""

    user_id: int
    text: str  # the frame exactly as the device receives it

    @classmethod
    def _from_wire(cls, message: dict[str, Any]) -> Ephemeral:
        return cls(user_id=int(message["user_id"]), text=str(message["text"]))


@dataclass(frozen=True, slots=True)
class InstanceBatch:
    """Everything one publisher has at once for the users of one gateway instance: a drain's
    inbox events, or one ephemeral frame for many users. One pub/sub message per instance,
    however many of its users it names (a 1,000-member group's message is one message per
    instance, not one per member)."""

    kind: ClassVar[str] = "batch"
    events: list[InboxEvents]
    ephemerals: list[Ephemeral]

    def encode(self) -> bytes:
        return dumps(
            {
                "kind": self.kind,
                "events": [
                    {"user_id": e.user_id, "frames": [f.to_wire() for f in e.frames], "published_at": e.published_at}
                    for e in self.events
                ],
                "ephemerals": [{"user_id": e.user_id, "text": e.text} for e in self.ephemerals],
            }
        )

    @classmethod
    def _from_wire(cls, message: dict[str, Any]) -> InstanceBatch:
        return cls(
            events=[InboxEvents._from_wire(item) for item in message["events"]],
            ephemerals=[Ephemeral._from_wire(item) for item in message["ephemerals"]],
        )


@dataclass(frozen=True, slots=True)
class Replay:
    """One connection's events after its cursor (part of a `Replays`)."""

    conn: str  # the connection's id
    user_id: int
    after: int  # the cursor the replay was asked from
    frames: list[InboxFrame]
    resync_to: int | None  # set when the events were pruned: the client resyncs from here
    complete: bool  # False: more events follow, the connection asks again

    def to_wire(self) -> dict[str, Any]:
        return {
            "conn": self.conn,
            "user_id": self.user_id,
            "after": self.after,
            "frames": [frame.to_wire() for frame in self.frames],
            "resync_to": self.resync_to,
            "complete": self.complete,
        }

    @classmethod
    def from_wire(cls, item: dict[str, Any]) -> Replay:
        return cls(
            conn=str(item["conn"]),
            user_id=int(item["user_id"]),
            after=int(item["after"]),
            frames=[InboxFrame.from_wire(frame) for frame in item["frames"]],
            resync_to=None if item["resync_to"] is None else int(item["resync_to"]),
            complete=bool(item["complete"]),
        )


@dataclass(frozen=True, slots=True)
class Replays:
    """An offline flush's answer, from a worker to the one gateway that asked."""

    kind: ClassVar[str] = "replays"
    replays: list[Replay]

    def encode(self) -> bytes:
        return dumps({"kind": self.kind, "replays": [replay.to_wire() for replay in self.replays]})

    @classmethod
    def _from_wire(cls, message: dict[str, Any]) -> Replays:
        return cls(replays=[Replay.from_wire(item) for item in message["replays"]])


@dataclass(frozen=True, slots=True)
class SessionRevoked:
    """A session ended: every gateway closes its sockets with 4401."""

    kind: ClassVar[str] = "revoked"
    session_id: str

    def encode(self) -> bytes:
        return dumps({"kind": self.kind, "session_id": self.session_id})

    @classmethod
    def _from_wire(cls, message: dict[str, Any]) -> SessionRevoked:
        return cls(session_id=str(message["session_id"]))


Envelope = InstanceBatch | Replays | SessionRevoked

_KINDS: dict[str, Callable[[dict[str, Any]], Envelope]] = {
    InstanceBatch.kind: InstanceBatch._from_wire,
    Replays.kind: Replays._from_wire,
    SessionRevoked.kind: SessionRevoked._from_wire,
}


def decode(data: bytes) -> Envelope:
    """The envelope in a pub/sub payload; UnknownEnvelope for anything else (a kind from
    another version of the code during a rolling deploy, a malformed payload), which the
    subscriber logs and skips."""
    try:
        message = loads(data)
        from_wire = _KINDS[message["kind"]]
        return from_wire(message)
    except (ValueError, TypeError, KeyError) as exc:  # orjson.JSONDecodeError is a ValueError
        raise UnknownEnvelope(f"not an envelope: {bytes(data[:80])!r}") from exc
