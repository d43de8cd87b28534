from typing import Any

from tortoise import fields
from tortoise.models import Model


class User(Model):
    id = fields.BigIntField(primary_key=True)
    # Uniqueness is case-insensitive: unique indexes on lower(username) and lower(email)
    # are created by the migration (Tortoise cannot declare expression indexes).
    username = fields.CharField(max_length=32)
    email = fields.CharField(max_length=254)
    password_hash = fields.CharField(max_length=100)
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField(null=True)
    # Last inbox_seq handed out to this user; bumped under the row lock, so gapless.
    inbox_seq = fields.BigIntField(default=0)

    class Meta:
        table = "users"


class AuthSession(Model):
    """One login. Revoking it ends its access tokens, refresh tokens and sockets."""

    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField("models.User", related_name="sessions", on_delete=fields.CASCADE)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    # Shown to the user in GET /auth/sessions: when it was last used (at most a minute stale),
    # and the client address and User-Agent of its login or latest refresh.
    last_seen_at = fields.DatetimeField(auto_now_add=True)
    ip = fields.CharField(max_length=64, null=True)
    user_agent = fields.CharField(max_length=256, null=True)

    class Meta:
        table = "auth_sessions"
        indexes = (("user_id", "created_at"),)


class RefreshToken(Model):
    """Opaque refresh tokens, stored as SHA-256 hashes; each is spent once."""

    id = fields.BigIntField(primary_key=True)
    session: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.AuthSession", related_name="refresh_tokens", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    spent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "refresh_tokens"
