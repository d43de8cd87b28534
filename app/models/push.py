from typing import Any

from tortoise import fields
from tortoise.models import Model


class PushSubscription(Model):
    """Where to notify one device of a user while it is not connected: a Web Push endpoint
    (`webpush`, with the browser's P-256 key and auth secret) or a Matrix push gateway
    (`http`: Sygnal or compatible, with app_id and pushkey)."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name="push_subscriptions", on_delete=fields.CASCADE
    )
    device_id = fields.CharField(max_length=64)
    kind = fields.CharField(max_length=8)  # "webpush" | "http"
    # The Web Push endpoint, or the push gateway's notify URL.
    url = fields.CharField(max_length=2048)
    p256dh = fields.CharField(max_length=128, null=True)
    auth = fields.CharField(max_length=64, null=True)
    app_id = fields.CharField(max_length=64, null=True)
    pushkey = fields.CharField(max_length=512, null=True)
    # SHA-256 (hex) of the endpoint (webpush) or of app_id and pushkey (http): registering the
    # same target again replaces the row, whoever held it.
    target = fields.CharField(max_length=64, unique=True)
    # The login session that registered it: once that session ends (logout, revoked elsewhere,
    # password changed, refresh lifetime over) the device gets no more pushes.
    session_id = fields.UUIDField(null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "push_subscriptions"
        indexes = (("user", "device_id"),)
