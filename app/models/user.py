from typing import Any

from tortoise import fields
from tortoise.models import Model


class User(Model):
    id = fields.BigIntField(primary_key=True)
    # Uniqueness is case-insensitive: unique indexes on lower(username) and lower(email)
    # are created by the migration (Tortoise cannot declare expression indexes).
    # Both null once the account is erased: the name and address are free for new accounts.
    username = fields.CharField(max_length=32, null=True)
    email = fields.CharField(max_length=254, null=True)
    password_hash = fields.CharField(max_length=100)
    is_active = fields.BooleanField(default=True)  # False: deactivated by an administrator, or erased
    is_admin = fields.BooleanField(default=False)  # a server administrator (`messenger admin grant`)
    display_name = fields.CharField(max_length=64, null=True)  # null: shown as the username
    # The caller's own upload shown as the avatar (readable by every authenticated user).
    avatar_id = fields.BigIntField(null=True, db_index=True)
    # Erasure (DELETE /users/me): deleted_at is set with everything else in one transaction;
    # erased_at once every message the account sent is wiped (workers/jobs.py `erase`).
    deleted_at = fields.DatetimeField(null=True)
    erased_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField(null=True)
    # Last inbox_seq handed out to this user; bumped under the row lock, so gapless.
    inbox_seq = fields.BigIntField(default=0)
    # A bot (POST /bots): never changes for an id; owned by the user who made it.
    is_bot = fields.BooleanField(default=False)
    bot_owner_id = fields.BigIntField(null=True, db_index=True)

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


class UserBlock(Model):
    """blocker stops blocked from opening a direct chat with, sending to the direct chat with,
    or adding to a group the blocker, and hears no typing or presence from blocked."""

    id = fields.BigIntField(primary_key=True)
    blocker: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField("models.User", related_name="blocks", on_delete=fields.CASCADE)
    blocked: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "models.User", related_name="blocked_by", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "user_blocks"
        unique_together = (("blocker", "blocked"),)
        indexes = (("blocked", "blocker"),)


class AccountExport(Model):
    """A data export (POST /users/me/export): built by the `export` job into the media store."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField("models.User", related_name="exports", on_delete=fields.CASCADE)
    status = fields.CharField(max_length=16, default="pending")  # "pending" | "ready"
    storage_key = fields.CharField(max_length=128, null=True)
    size = fields.BigIntField(null=True)  # bytes of the archive, once ready
    created_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "account_exports"
        indexes = (("user", "created_at"),)
