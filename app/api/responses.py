"""Response models: the bodies REST routes answer with (contract v1.1, as this server fills
them), documented in /openapi.json and, where RESPONSE_VALIDATION asks for it, checked
against what each handler returns (app/api/validation.py `responds`).

Every model forbids unknown fields, so a handler that grows or renames a field drifts from
its schema and fails the tests that validate responses, instead of silently changing the API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.ids import MAX_ID

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Seq = Annotated[int, Field(ge=0, le=MAX_ID)]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(_Out):
    code: str = Field(pattern=r"^[a-z][a-z_]*$")
    message: str = Field(min_length=1)
    details: Any = None


class Error(_Out):
    """The error envelope of every 4xx and 5xx answer."""

    error: ErrorBody


class Status(_Out):
    status: Literal["ok", "ready"]


class Attachment(_Out):
    """`url` and `thumbnail_url` are paths on this API (GET them with the bearer token)."""

    id: Id
    name: str
    content_type: str
    size: int = Field(ge=0)
    width: int | None
    height: int | None
    url: str
    thumbnail_url: str | None


DisplayName = Annotated[str, Field(min_length=1, max_length=64)]


class User(_Out):
    """The caller's own account; `display_name` is the username until one is set."""

    id: Id
    username: str | None
    email: str | None = Field(description="null for a bot")
    display_name: DisplayName
    avatar: Attachment | None
    is_active: bool
    is_admin: bool
    is_bot: bool
    created_at: datetime


class UserPublic(_Out):
    """A public profile: `online` / `last_seen_at` are null unless the caller shares a chat.
    An erased account is `{deleted: true, username: null, display_name: "Deleted account"}`."""

    id: Id
    username: str | None
    display_name: DisplayName
    avatar_url: str | None = Field(description="GET it with the bearer token (any authenticated user may).")
    online: bool | None
    last_seen_at: datetime | None
    deleted: bool
    is_bot: bool


class UserPage(_Out):
    items: list[UserPublic]
    next_cursor: str | None


class AccountPage(_Out):
    """Accounts as administrators see them (GET /admin/users)."""

    items: list[User]
    next_cursor: str | None


class ExportStatus(_Out):
    id: Id
    status: Literal["pending", "ready"]


class Tokens(_Out):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"]
    expires_in: int


class Ticket(_Out):
    ticket: str
    expires_in: int


class Session(_Out):
    id: str
    created_at: datetime
    last_seen_at: datetime | None
    ip: str | None
    user_agent: str | None
    current: bool


class ReplyPreview(_Out):
    """The message replied to, in its current state (`preview` is "" once it is deleted)."""

    id: Id
    seq: Seq
    sender_id: Id | None
    preview: str = Field(max_length=100)


class Reaction(_Out):
    emoji: str
    count: int = Field(ge=1)
    me: bool = Field(description="The reader reacted with this emoji.")


class Message(_Out):
    id: Id
    chat_id: Id
    seq: Seq
    sender_id: Id | None
    client_msg_id: str | None
    content: str
    created_at: datetime
    edited_at: datetime | None
    is_deleted: bool
    delivered_at: datetime | None
    read_at: datetime | None
    reply_to: ReplyPreview | None
    mentions: list[Id] = Field(description="Members named as @username when it was stored or last edited.")
    reactions: list[Reaction] = Field(max_length=20, description="In first-reacted order.")
    attachments: list[Attachment] = Field(max_length=10)
    pinned: bool
    expires_at: datetime | None = Field(description="Set when stored under the chat's message_ttl: gone for everyone then.")


class MessagePage(_Out):
    items: list[Message]
    next_cursor: str | None


class Member(_Out):
    user_id: Id
    username: str
    role: Literal["owner", "admin", "member"]


class ChatMember(Member):
    send_blocked_until: datetime | None = Field(
        description="While a group's owner or admin has muted this member (they read but cannot send, edit or react)."
    )


class Chat(_Out):
    id: Id
    type: Literal["direct", "group"]
    title: str | None
    created_at: datetime
    members: list[ChatMember]
    last_message: Message | None
    last_seq: Seq
    unread_count: int
    unread_mentions: int
    muted_until: datetime | None = Field(description="The caller's own setting.")
    archived: bool = Field(description="The caller's own setting.")
    message_ttl: int | None = Field(description="Seconds each message stored from now on lives; null: forever.")
    history_visible: bool = Field(description="false: a member added later sees only what came after joining.")
    slow_mode: int | None = Field(description="Seconds between two sends of a member below admin; null: off.")


class ChatPage(_Out):
    items: list[Chat]
    next_cursor: str | None


class ReadState(_Out):
    chat_id: Id
    read_seq: Seq
    unread_count: int
    unread_mentions: int


class Receipt(_Out):
    user_id: Id
    delivered_at: datetime | None
    read_at: datetime | None


class SearchHit(_Out):
    """One search result: the message, and its content HTML-escaped with the matches in
    <mark>…</mark>."""

    message: Message
    highlight: str


class SearchPage(_Out):
    items: list[SearchHit]
    next_cursor: str | None


class VapidPublicKey(_Out):
    """`applicationServerKey` for PushManager.subscribe: URL-safe base64 of the uncompressed
    P-256 public key."""

    key: str


class PushSubscription(_Out):
    """A device's push subscription: `endpoint` for `webpush`, `url`, `app_id` and `pushkey`
    for `http` (a Matrix push gateway); the others null. Web Push keys are never echoed."""

    id: Id
    device_id: str
    kind: Literal["webpush", "http"]
    endpoint: str | None
    url: str | None
    app_id: str | None
    pushkey: str | None
    created_at: datetime


class ExportChat(_Out):
    """One of the account's chats when the archive was written, with its role there."""

    id: Id
    type: Literal["direct", "group"]
    title: str | None
    created_at: datetime
    role: Literal["owner", "admin", "member"]
    joined_at: datetime
    members: list[Member]


class ExportMessage(_Out):
    id: Id
    chat_id: Id
    seq: Seq
    content: str
    created_at: datetime
    edited_at: datetime | None
    is_deleted: bool
    reply_to_id: Id | None
    mentions: list[Id]
    attachments: list[Attachment]


class ExportUpload(Attachment):
    message_id: Id | None = Field(description="The message carrying it, if any.")
    created_at: datetime


class ExportArchive(_Out):
    """GET /users/me/export/{id} once ready: the account's data."""

    format: Literal["messenger-core-export/1"]
    exported_at: datetime
    profile: User
    chats: list[ExportChat]
    messages: list[ExportMessage] = Field(description="Every message the account sent, by id, also in chats it left.")
    attachments: list[ExportUpload] = Field(description="Every upload of the account.")


class Webhook(_Out):
    url: str
    enabled: bool
    cursor: Seq = Field(description="Every inbox event up to here was accepted by the receiver.")
    pending: Seq = Field(description="Inbox events after the cursor.")
    last_success_at: datetime | None
    last_error: str | None
    disabled_reason: str | None


class Bot(_Out):
    bot: User
    webhook: Webhook | None


class BotPage(_Out):
    items: list[Bot]
    next_cursor: str | None


class NewBot(_Out):
    bot: User
    token: str = Field(description="Authorization: Bearer <token>; shown only here. It does not expire.")
    webhook_secret: str = Field(description="Signs every webhook POST (X-Messenger-Signature); shown only here.")


class BotToken(_Out):
    token: str


class WebhookSecret(_Out):
    webhook_secret: str


class WebhookDelivery(_Out):
    id: Id
    delivery_id: str = Field(description="X-Messenger-Delivery: the same on every attempt of a batch.")
    first_inbox_seq: Seq
    last_inbox_seq: Seq
    attempt: int
    status: int | None = Field(description="The receiver's HTTP status; null when it gave none.")
    duration_ms: int
    error: str | None
    at: datetime


class WebhookDeliveryPage(_Out):
    items: list[WebhookDelivery]
    next_cursor: str | None


class Report(_Out):
    """A report of a message to the server's administrators. Its reporter sees only their own."""

    id: Id
    message_id: Id
    chat_id: Id
    reporter_id: Id
    reason: Literal["spam", "abuse", "illegal", "other"]
    comment: str | None
    status: Literal["open", "resolved"]
    action: Literal["dismiss", "delete_message", "deactivate_sender"] | None
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: Id | None


class AdminReport(Report):
    """A report as administrators list it: the resolving note and the message as it is now."""

    note: str | None
    message: Message | None = Field(description="null once the message is gone.")


class AdminReportPage(_Out):
    items: list[AdminReport]
    next_cursor: str | None


class Ban(_Out):
    user_id: Id
    until: datetime | None = Field(description="null: forever.")
    reason: str | None
    by: Id | None = Field(description="Who banned (null once that account is gone).")


class BanPage(_Out):
    items: list[Ban]
    next_cursor: str | None


class Scheduled(_Out):
    """A message waiting for `send_at` (its author's view only)."""

    id: Id
    chat_id: Id
    content: str
    reply_to_id: Id | None
    attachment_ids: list[Id]
    client_msg_id: str | None
    send_at: datetime
    created_at: datetime


class ScheduledPage(_Out):
    items: list[Scheduled]
    next_cursor: str | None
