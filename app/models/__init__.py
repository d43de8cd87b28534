"""Tortoise models: the schema Aerich migrates. Hot paths query with SQL in app/storage."""

from app.models.attachment import Attachment
from app.models.bot import Webhook, WebhookDelivery
from app.models.chat import Chat, ChatMember
from app.models.inbox import Device, InboxEvent, OutboxEvent
from app.models.message import Message, ReceiptMark
from app.models.push import PushSubscription
from app.models.user import AccountExport, AuthSession, RefreshToken, User, UserBlock

__all__ = [
    "AccountExport",
    "Attachment",
    "AuthSession",
    "Chat",
    "ChatMember",
    "Device",
    "InboxEvent",
    "Message",
    "OutboxEvent",
    "PushSubscription",
    "ReceiptMark",
    "RefreshToken",
    "User",
    "UserBlock",
    "Webhook",
    "WebhookDelivery",
]
