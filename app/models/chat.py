from typing import Any

from tortoise import fields
from tortoise.models import Model


class Chat(Model):
    id = fields.BigIntField(primary_key=True)
    type = fields.CharField(max_length=8)  # "direct" | "group"
    title = fields.CharField(max_length=128, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    # Last message seq handed out; bumped under the row lock inside the insert's transaction.
    last_seq = fields.BigIntField(default=0)
    last_activity_at = fields.DatetimeField(auto_now_add=True)
    # "<low id>:<high id>" for direct chats: the unique index makes one chat per pair.
    direct_key = fields.CharField(max_length=48, null=True, unique=True)

    class Meta:
        table = "chats"


class ChatMember(Model):
    id = fields.BigIntField(primary_key=True)
    chat: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField("models.Chat", related_name="members", on_delete=fields.CASCADE)
    user: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField("models.User", related_name="memberships", on_delete=fields.CASCADE)
    role = fields.CharField(max_length=8)  # "owner" | "admin" | "member"
    joined_at = fields.DatetimeField(auto_now_add=True)
    read_seq = fields.BigIntField(default=0)
    delivered_seq = fields.BigIntField(default=0)
    # The member's own settings.
    muted_until = fields.DatetimeField(null=True)
    archived = fields.BooleanField(default=False)

    class Meta:
        table = "chat_members"
        unique_together = (("chat", "user"),)
        indexes = (("user", "chat"),)
