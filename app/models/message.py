from typing import Any

from tortoise import fields
from tortoise.contrib.postgres.fields import ArrayField
from tortoise.models import Model


class Message(Model):
    id = fields.BigIntField(primary_key=True)
    chat: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField("models.Chat", related_name="messages", on_delete=fields.CASCADE)
    seq = fields.BigIntField()
    sender: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField("models.User", related_name="messages", on_delete=fields.CASCADE)
    client_msg_id = fields.CharField(max_length=64, null=True)
    content = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)
    edited_at = fields.DatetimeField(null=True)
    is_deleted = fields.BooleanField(default=False)
    # When every other member first received / read it.
    delivered_at = fields.DatetimeField(null=True)
    read_at = fields.DatetimeField(null=True)
    # An earlier message of the same chat (checked in the send's statement).
    reply_to_id = fields.BigIntField(null=True)
    # Members named as @username when the content was stored or last edited.
    mentions: Any = ArrayField(element_type="bigint", default=list)
    # [{"emoji", "user_ids"}] in first-reacted order, changed under the message's row lock.
    reactions: Any = fields.JSONField(default=list)
    pinned_at = fields.DatetimeField(null=True)

    class Meta:
        table = "messages"
        unique_together = (("chat", "seq"), ("sender", "client_msg_id"))


class ReceiptMark(Model):
    """A member's delivered/read mark moving up to a seq; marks only ever rise.

    Per-message receipt times are the `at` of the first mark that covers the message, so one
    row per mark replaces one row per message and member.
    """

    id = fields.BigIntField(primary_key=True)
    chat_id = fields.BigIntField()
    user_id = fields.BigIntField()
    status = fields.CharField(max_length=9)  # "delivered" | "read"
    up_to_seq = fields.BigIntField()
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "receipt_marks"
        indexes = (("chat_id", "user_id", "status", "up_to_seq"),)
