"""Request models: the contract's validation rules, one place, also the OpenAPI schema."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    RootModel,
    StrictBool,
    StringConstraints,
    model_validator,
)

from app.ids import MAX_ID

Username = Annotated[str, StringConstraints(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]
Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Seq = Annotated[int, Field(ge=0, le=MAX_ID)]
Limit = Annotated[int, Field(ge=1, le=200)]
# Message text: at least one character, no NUL (PostgreSQL text cannot hold it). The upper
# bound is the MAX_MESSAGE_LENGTH setting: the service enforces it and app/api/openapi.py
# writes it into the document as maxLength.
Content = Annotated[str, StringConstraints(min_length=1, pattern=r"^[^\x00]*$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterIn(_In):
    username: Username
    email: EmailStr
    password: Password


class LoginIn(BaseModel):
    # Form posts from Swagger's "Authorize" add grant_type, scope and the like: ignore them.
    model_config = ConfigDict(extra="ignore")
    username: Annotated[str, StringConstraints(min_length=1, max_length=254)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class RefreshIn(_In):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class LogoutIn(_In):
    refresh_token: Annotated[str, StringConstraints(max_length=256)] | None = None


class PageQuery(_In):
    cursor: Annotated[str, StringConstraints(max_length=512)] | None = None
    limit: Limit = 50


class SearchQuery(PageQuery):
    """A username or display name prefix (display names run to 64 characters)."""

    q: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class CreateChatIn(_In):
    # The rules across fields, for the document (the handler enforces them): a direct chat
    # names exactly one other user; a group has a title.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {
                    "properties": {"type": {"const": "direct"}, "member_ids": {"minItems": 1, "maxItems": 1}},
                    "required": ["member_ids"],
                },
                {"properties": {"type": {"const": "group"}, "title": {"type": "string"}}, "required": ["title"]},
            ]
        },
    )
    type: Literal["direct", "group"]
    title: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    member_ids: Annotated[list[Id], Field(max_length=200)] = []


class AddMembersIn(_In):
    user_ids: Annotated[list[Id], Field(min_length=1, max_length=200)]


class SendIn(_In):
    chat_id: Id
    # "" only with attachments (the service checks; the schema cannot say it across fields).
    content: Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]
    client_msg_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    reply_to_id: Id | None = None
    attachment_ids: Annotated[list[Id], Field(min_length=1, max_length=10)] | None = None
    send_at: AwareDatetime | None = Field(
        default=None, description="A future moment (at most 365 days ahead): 202 with the Scheduled message."
    )


class ScheduledChangeIn(_In):
    """Only the fields sent change."""

    content: Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")] | None = None
    send_at: AwareDatetime | None = None

    def changes(self) -> dict[str, object]:
        return {name: value for name in self.model_fields_set if (value := getattr(self, name)) is not None}


class ScheduledQuery(_In):
    chat_id: Id | None = None
    cursor: Annotated[str, StringConstraints(max_length=512)] | None = None
    limit: Limit = 50


class HistoryQuery(_In):
    chat_id: Id
    before_seq: Seq | None = None
    after_seq: Seq | None = None
    cursor: Annotated[str, StringConstraints(max_length=512)] | None = None
    limit: Limit = 50


class EditIn(_In):
    content: Content


Title = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00]*$")]


MESSAGE_TTL_MAX = 365 * 24 * 3600


class ChatChangeIn(_In):
    """Only the fields sent change. `message_ttl` (5 s to 365 days, null: off): any member of a
    direct chat, a group's owner or admins; `title`, `history_visible`, `slow_mode` (1 s to a
    day, null: off): a group's owner or admins."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    title: Title = None  # type: ignore[assignment]  # absent: unchanged; a title is never removed (no null)
    message_ttl: Annotated[int, Field(ge=5, le=MESSAGE_TTL_MAX)] | None = None
    history_visible: StrictBool | None = None
    slow_mode: Annotated[int, Field(ge=1, le=86_400)] | None = None

    @model_validator(mode="after")
    def _names_a_setting(self) -> ChatChangeIn:
        if not self.model_fields_set:
            raise ValueError("Name at least one setting to change.")
        return self

    def changes(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class RoleIn(_In):
    role: Literal["admin", "member"]


class OwnerIn(_In):
    user_id: Id


Note = Annotated[str, StringConstraints(max_length=1000, pattern=r"^[^\x00]*$")]


class ReportIn(_In):
    reason: Literal["spam", "abuse", "illegal", "other"]
    comment: Note | None = None


class ReportQuery(PageQuery):
    status: Literal["open", "resolved", "all"] = "open"


class ResolveIn(_In):
    action: Literal["dismiss", "delete_message", "deactivate_sender"]
    note: Note | None = None


class BanIn(_In):
    """`until` absent or null: forever; a time already past lets the user back at once."""

    until: AwareDatetime | None = None
    reason: Note | None = None


class MuteIn(_In):
    """A time already past lifts the mute."""

    until: AwareDatetime


class ChatSettingsIn(_In):
    """Only the fields sent change; `muted_until: null` unmutes."""

    muted_until: AwareDatetime | None = None
    archived: StrictBool = False

    def changes(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class ReadIn(_In):
    chat_id: Id
    up_to_seq: Seq


class PasswordChangeIn(_In):
    current_password: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    new_password: Password


class MessageSearchQuery(PageQuery):
    """GET /messages/search: words of any language; the last one matches as a prefix."""

    q: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    chat_id: Id | None = None


# Push subscriptions (contract: Push notifications). Keys and URLs are checked further by the
# service (base64 lengths, http/https, public hosts).
DeviceId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
PushUrl = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Base64Url = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+=*$")]


class WebPushKeysIn(_In):
    p256dh: Base64Url
    auth: Base64Url


class WebPushSubscriptionIn(_In):
    device_id: DeviceId
    kind: Literal["webpush"]
    endpoint: PushUrl
    keys: WebPushKeysIn


class HttpPusherIn(_In):
    """A Matrix push gateway (Sygnal): `url` is its `/_matrix/push/v1/notify`."""

    device_id: DeviceId
    kind: Literal["http"]
    url: PushUrl
    app_id: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
    pushkey: Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=r"^[^\x00-\x1f\x7f]+$")]


class PushSubscriptionIn(RootModel[Annotated[WebPushSubscriptionIn | HttpPusherIn, Field(discriminator="kind")]]):
    pass


# Any script; trimmed, then 1 to 64 characters without control characters.
DisplayName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]*$")
]


class ProfileIn(_In):
    """Only the fields sent change; null clears (the display name falls back to the username)."""

    display_name: DisplayName | None = None
    avatar_attachment_id: Id | None = None

    def changes(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class EraseIn(_In):
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


WebhookUrl = Annotated[str, StringConstraints(min_length=1, max_length=2048)]


class BotIn(_In):
    username: Username
    display_name: DisplayName | None = None
    webhook_url: WebhookUrl | None = None


class BotChangeIn(_In):
    """Only the fields sent change; `webhook_url: null` removes the webhook."""

    display_name: DisplayName | None = None
    webhook_url: WebhookUrl | None = None
    webhook_enabled: StrictBool | None = None

    def changes(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class RewindIn(_In):
    inbox_seq: Annotated[int, Field(ge=0, le=MAX_ID)]
