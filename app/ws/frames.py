"""Server-to-client frames: the data model of each frame type the gateway writes.

As with REST's response models (app/api/responses.py), frames are built as plain dicts on the
hot path (inbox events are rendered once in the worker, app/services/delivery.py) and these
models are their schema: /asyncapi.json publishes them (app/ws/asyncapi.py) beside the client
frames the gateway decodes with (app/ws/protocol.py), and the test suite checks every frame its
clients receive against that document, so a frame cannot drift from it unnoticed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.api.responses import Chat, Id, Message, Reaction, Report, Scheduled, Seq, User, UserPublic, Webhook


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConnectedData(_Data):
    user_id: Id
    session_id: str
    device_id: str = Field(min_length=1, max_length=64)
    cursor: Seq = Field(description="This device's last acked inbox_seq: the replay starts after it.")
    inbox_seq: Seq = Field(description="The same value as `cursor`, for v1 clients.")
    heartbeat_interval: float = Field(gt=0)


class MessageEventData(_Data):
    """`message`, `message_edited`, `message_deleted`: `message` is null for a user no longer in
    the chat (a replay after leaving shows nothing of it)."""

    inbox_seq: Seq
    message: Message | None


class ReceiptData(_Data):
    inbox_seq: Seq
    chat_id: Id
    user_id: Id
    status: Literal["delivered", "read"]
    up_to_seq: Seq
    at: datetime


class RemovedChat(_Data):
    id: Id
    removed: Literal[True]


class ChatUpdatedData(_Data):
    inbox_seq: Seq
    chat: Chat | RemovedChat | None


class ReactionsData(_Data):
    """A message's reactions changed; `me` is the receiver's. Empty for a user no longer in the
    chat (a replay after leaving shows nothing of it)."""

    inbox_seq: Seq
    chat_id: Id
    message_id: Id
    reactions: list[Reaction]


class MessageAckData(_Data):
    """The stored message; for a `message` frame with a future `send_at`, the Scheduled one
    instead (exactly one of the two)."""

    message: Message | None = None
    scheduled: Scheduled | None = None


class ReadAckData(_Data):
    chat_id: Id
    read_seq: Seq
    unread_count: int = Field(ge=0)
    unread_mentions: int = Field(ge=0)


class TypingEventData(_Data):
    chat_id: Id
    user_id: Id


class PresenceData(_Data):
    user_id: Id
    online: bool
    last_seen_at: datetime | None


class UserUpdatedData(_Data):
    """A contact's profile changed (or the user's own, for its other devices); not stored."""

    user: UserPublic


class BotUpdatedData(_Data):
    """One of the caller's bots changed without the caller doing it (its webhook was disabled
    after WEBHOOK_DISABLE_AFTER without a success); an inbox event."""

    inbox_seq: Seq
    bot: User
    webhook: Webhook | None


class AdminReportData(_Data):
    """A new report of a message, to every online server administrator; not stored."""

    report: Report


class ScheduledUpdatedData(_Data):
    """One of the caller's scheduled messages was made, changed, cancelled or sent
    (`scheduled` null: it is no longer pending); an inbox event."""

    inbox_seq: Seq
    scheduled: Scheduled | None
    id: Id


class ScheduledFailedData(_Data):
    """A scheduled message could not be sent at its moment and was dropped: `not_a_member`
    (the author left the chat), `attachment_gone`, or `refused` (a reply gone, a block, the
    author muted by the chat's admins)."""

    inbox_seq: Seq
    scheduled_id: Id
    chat_id: Id
    reason: str


class ResyncData(_Data):
    inbox_seq: Seq = Field(description="Refetch chats and history over REST, then `ack` this seq.")


class ErrorData(_Data):
    code: str = Field(pattern=r"^[a-z][a-z_]*$")
    message: str = Field(min_length=1)
    details: Any = None


class PingData(_Data):
    pass


# Frame type -> its data model. Inbox events carry inbox_seq; the others are replies or
# ephemeral.
SERVER_FRAMES: dict[str, type[BaseModel]] = {
    "connected": ConnectedData,
    "message": MessageEventData,
    "message_edited": MessageEventData,
    "message_deleted": MessageEventData,
    "receipt": ReceiptData,
    "chat_updated": ChatUpdatedData,
    "reactions": ReactionsData,
    "message_ack": MessageAckData,
    "read_ack": ReadAckData,
    "typing": TypingEventData,
    "presence": PresenceData,
    "user_updated": UserUpdatedData,
    "bot_updated": BotUpdatedData,
    "scheduled_updated": ScheduledUpdatedData,
    "scheduled_failed": ScheduledFailedData,
    "admin_report": AdminReportData,
    "resync": ResyncData,
    "error": ErrorData,
    "ping": PingData,
}
# Which server frame answers a client frame (and echoes its `ref`); `error` answers any.
REPLIES: dict[str, str] = {
    "message": "message_ack",
    "edit_message": "message_ack",
    "delete_message": "message_ack",
    "read": "read_ack",
}
