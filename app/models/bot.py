from typing import Any

from tortoise import fields
from tortoise.models import Model


class Webhook(Model):
    """A bot's outgoing webhook: its inbox is POSTed from `cursor` on (app/services/webhooks.py).

    The batch in flight (`delivery_id`, up to `batch_last`) is kept so that every retry sends
    the same events under the same id; `lease_until` is the one worker run allowed to send."""

    bot: fields.OneToOneRelation[Any] = fields.OneToOneField(
        "models.User", related_name="webhook", on_delete=fields.CASCADE, primary_key=True
    )
    url = fields.CharField(max_length=2048, null=True)  # null: no webhook (the secret is kept)
    secret = fields.CharField(max_length=64)
    enabled = fields.BooleanField(default=True)
    disabled_reason = fields.CharField(max_length=200, null=True)
    cursor = fields.BigIntField(default=0)  # every inbox event up to here was accepted
    delivery_id = fields.UUIDField(null=True)
    batch_last = fields.BigIntField(null=True)
    attempt = fields.IntField(default=0)  # attempts of the batch in flight so far
    next_attempt_at = fields.DatetimeField(auto_now_add=True)
    failing_since = fields.DatetimeField(null=True)
    last_success_at = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=300, null=True)
    lease_token = fields.UUIDField(null=True)
    lease_until = fields.DatetimeField(null=True)

    class Meta:
        table = "webhooks"


class WebhookDelivery(Model):
    """One attempt, for GET /bots/{id}/webhook/deliveries (the latest few hundred per bot)."""

    id = fields.BigIntField(primary_key=True)
    bot: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name="webhook_deliveries", on_delete=fields.CASCADE
    )
    delivery_id = fields.UUIDField()
    first_inbox_seq = fields.BigIntField()
    last_inbox_seq = fields.BigIntField()
    attempt = fields.IntField()
    status = fields.IntField(null=True)  # the receiver's HTTP status; null: no answer
    duration_ms = fields.IntField()
    error = fields.CharField(max_length=300, null=True)
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "webhook_deliveries"
        indexes = (("bot", "id"),)
