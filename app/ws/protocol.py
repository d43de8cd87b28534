"""Client frames: decoded and validated here, so the endpoint only dispatches."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from app.errors import AppError, ValidationFailed
from app.ids import MAX_ID
from app.jsonutil import loads

ClientMsgId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Seq = Annotated[int, Field(ge=0, le=MAX_ID)]


class FrameError(ValidationFailed):
    """A frame refused while decoding, carrying the `ref` its error frame echoes (None when
    the frame had no usable ref, or could not be read at all)."""

    def __init__(self, message: str, *, ref: str | None = None, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.ref = ref


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SendData(_Data):
    chat_id: Id
    content: str
    client_msg_id: ClientMsgId
    # As REST's: an earlier message of the same chat; the sender's own unused uploads.
    reply_to_id: Id | None = None
    attachment_ids: Annotated[list[Id], Field(min_length=1, max_length=10)] | None = None
    # A future moment (at most 365 days ahead): kept and sent then; the ack carries `scheduled`.
    # JSON has no time type: an ISO string with an offset is parsed even in this strict model.
    send_at: Annotated[AwareDatetime, Field(strict=False)] | None = None


class EditData(_Data):
    message_id: Id
    content: str


class DeleteData(_Data):
    message_id: Id


class ReadData(_Data):
    chat_id: Id
    up_to_seq: Seq | None = None
    message_ids: Annotated[list[Id], Field(min_length=1, max_length=500)] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ReadData:
        if (self.up_to_seq is None) == (self.message_ids is None):
            raise ValueError("give exactly one of up_to_seq or message_ids")
        return self


class TypingData(_Data):
    chat_id: Id


class AckData(_Data):
    """The device holds every inbox event up to `inbox_seq`. Acks are cumulative cursors: ack
    the highest seq held once per 50 events or 50 ms, not every event (one ack covers all
    before it; a lower one than already acked changes nothing)."""

    inbox_seq: Seq


class SyncData(_Data):
    since_inbox_seq: Seq


class EmptyData(BaseModel):
    model_config = ConfigDict(extra="allow")


FRAME_DATA: dict[str, type[BaseModel]] = {
    "message": SendData,
    "edit_message": EditData,
    "delete_message": DeleteData,
    "read": ReadData,
    "typing": TypingData,
    "ack": AckData,
    "sync": SyncData,
    "pong": EmptyData,
}


def decode(raw: str | bytes) -> tuple[str, BaseModel, str | None]:
    """(type, validated data, ref); FrameError, with the ref, when anything is wrong."""
    try:
        frame = loads(raw)
    except ValueError:
        raise FrameError("Frames must be JSON text.") from None
    if not isinstance(frame, dict):
        raise FrameError("A frame is a JSON object {type, data, ref}.")
    ref = frame.get("ref")
    ref = ref if isinstance(ref, str) and len(ref) <= 128 else None
    kind = frame.get("type")
    model = FRAME_DATA.get(kind) if isinstance(kind, str) else None
    if model is None or not isinstance(kind, str):
        raise FrameError(f"Unknown frame type {str(kind)[:40]!r}.", ref=ref)
    try:
        data = model.model_validate(frame.get("data", {}))
    except ValidationError as exc:
        raise FrameError(
            "The frame's data is not valid.",
            ref=ref,
            details=[{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()],
        ) from None
    return kind, data, ref


def error_frame(error: AppError, ref: str | None) -> dict[str, Any]:
    """The `error` frame answering a client frame (with its ref when it had one)."""
    frame: dict[str, Any] = {"type": "error", "data": {"code": error.code, "message": error.message}}
    if error.details is not None:
        frame["data"]["details"] = error.details
    if ref is not None:
        frame["ref"] = ref
    return frame
