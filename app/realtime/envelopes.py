"""Inbox events as they travel from a worker to the gateways: rendered to the device's text
once, in the worker, so a gateway neither parses a message body nor encodes it again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.jsonutil import dumps_str


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
