from typing import Any

from tortoise import fields
from tortoise.models import Model


class OutboxEvent(Model):
    """A change other users must hear about, written in the change's own transaction.

    The delivery job turns it into inbox events and deletes it in one transaction, so a crash
    anywhere between commit and publish is repaired by running the job again.
    """

    id = fields.BigIntField(primary_key=True)
    type = fields.CharField(max_length=32)
    chat_id = fields.BigIntField(null=True)
    # Users who get the event; null means every current member of chat_id.
    user_ids: Any = fields.JSONField(null=True)
    payload: Any = fields.JSONField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "outbox"


class InboxEvent(Model):
    """One event a user must see, numbered per user by inbox_seq (1, 2, 3 ... no gaps)."""

    id = fields.BigIntField(primary_key=True)
    user_id = fields.BigIntField()
    inbox_seq = fields.BigIntField()
    type = fields.CharField(max_length=32)
    chat_id = fields.BigIntField(null=True)
    # Message events reference the message and are rendered from its current state when
    # pushed or replayed, so an edit or delete is never undone by an old copy.
    message_id = fields.BigIntField(null=True)
    # Other events (receipt, chat_updated) carry their data here.
    payload: Any = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    committed_at = fields.FloatField(null=True)  # epoch seconds of the source commit (latency)

    class Meta:
        table = "inbox_events"
        unique_together = (("user_id", "inbox_seq"),)


class Device(Model):
    """A user's device and its cursor: every inbox event up to acked_seq was received."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField("models.User", related_name="devices", on_delete=fields.CASCADE)
    device_id = fields.CharField(max_length=64)
    acked_seq = fields.BigIntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "devices"
        unique_together = (("user", "device_id"),)
