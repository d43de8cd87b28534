from typing import Any

from tortoise import fields
from tortoise.models import Model


class Attachment(Model):
    """An uploaded file; its bytes live in the media store (app/media) under `storage_key`."""

    id = fields.BigIntField(primary_key=True)
    uploader: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField("models.User", related_name="attachments", on_delete=fields.CASCADE)
    # The message that carries it: set once, by the send that names it (at most one message).
    message_id = fields.BigIntField(null=True, db_index=True)
    name = fields.CharField(max_length=255)
    content_type = fields.CharField(max_length=100)  # sniffed from the bytes
    size = fields.BigIntField()
    width = fields.IntField(null=True)
    height = fields.IntField(null=True)
    storage_key = fields.CharField(max_length=128)
    thumbnail_key = fields.CharField(max_length=128, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "attachments"
        indexes = (("uploader", "created_at"),)
