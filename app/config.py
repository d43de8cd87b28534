"""Settings from the environment (and `.env`), plus the Tortoise/Aerich config built from them."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MODEL_MODULES = ["app.models", "aerich.models"]
# The outbox index's slots: chat_id mod OUTBOX_SLOTS (migration 2 writes the same number in
# its index expression, and take_batch's SQL must match that expression).
OUTBOX_SLOTS = 256


class ConfigError(RuntimeError):
    """A setting is missing or wrong; raised at start-up, never later."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    database_url: str | None = None
    redis_url: str | None = None
    secret_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    access_token_ttl: int = Field(default=900, gt=0)
    refresh_token_ttl: int = Field(default=2_592_000, gt=0)
    heartbeat_interval: float = Field(default=25, gt=0)
    rate_limit_messages: int = Field(default=30, gt=0)
    rate_limit_window: float = Field(default=10, gt=0)
    max_message_length: int = Field(default=4096, gt=0)
    worker_metrics_port: int = 9100
    inbox_retention_days: int = Field(default=30, gt=0)
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)
    log_level: str = "INFO"
    # PostgreSQL connections per process (Tortoise's default of 5 queues sends under load).
    db_pool_size: int = Field(default=20, ge=1, le=200)
    # Where `messenger dev` keeps embedded servers' data and the generated secret.
    data_dir: str = ".data"
    # Outbox partitions drained in parallel (one drainer each at a time); API and workers
    # must agree on it. More than the workers' total concurrency buys nothing. A power of two
    # up to OUTBOX_SLOTS: a partition is a set of the outbox index's slots (app/storage/outbox.py).
    delivery_partitions: int = Field(default=8, ge=1, le=OUTBOX_SLOTS)
    # Groups larger than this broadcast no presence and no per-reader receipt events: in a
    # group of 1,000 each connect or ack would cost a frame to 999 members or to every
    # sender. Their members ask GET /users/{id} and GET /messages/{id}/receipts instead.
    large_group_size: int = Field(default=100, ge=2)
    # Responses checked against each route's declared schema (app/api/validation.py): off in
    # production; "log" reports a drift, "strict" answers it with a 500 (the fuzz test's API).
    response_validation: Literal["off", "log", "strict"] = "off"
    # Per-connection bounded send queue; a client that lets it overflow is closed with 4008.
    ws_send_queue_size: int = Field(default=1000, gt=0)
    # Login throttling: failures per account/address within the window before 429.
    login_max_failures: int = Field(default=10, gt=0)
    login_failure_window: int = Field(default=300, gt=0)
    # Peers (CIDR list, comma- or space-separated) whose X-Forwarded-For / Forwarded headers
    # name the client; empty: the socket's peer is always the client (app/clientaddr.py).
    trusted_proxies: str = ""
    # Registrations per client address per hour (each one is a bcrypt hash of CPU).
    register_rate_limit: int = Field(default=20, gt=0)
    # Groups created plus member additions per user per minute (every instance together).
    chat_rate_limit: int = Field(default=10, gt=0)
    # Sockets one user may hold across every instance; the next handshake answers 429.
    ws_max_per_user: int = Field(default=20, gt=0)
    # Device ids a user may connect with for the first time per 24 hours: each new device
    # replays the user's whole retained inbox, so new ids must not be free.
    ws_new_devices_per_day: int = Field(default=20, gt=0)
    # Address the worker's metrics server (WORKER_METRICS_PORT) binds: loopback unless a
    # scraper on another host needs it (docker-compose.yml sets 0.0.0.0).
    worker_metrics_host: str = "127.0.0.1"
    # Attachments: file://<path> (default DATA_DIR/media) or s3://<bucket>?endpoint_url=&region=
    # with credentials from the standard AWS environment variables (app/media/).
    storage_url: str | None = None
    upload_max_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    # Bytes of attachments one user may keep stored at once.
    user_storage_quota: int = Field(default=1024 * 1024 * 1024, gt=0)
    # Uploads per user per hour (each may be UPLOAD_MAX_BYTES of disk and a thumbnail's CPU).
    upload_rate_limit: int = Field(default=200, gt=0)
    # Hours an upload no message took is kept before the cleanup job removes it.
    upload_orphan_hours: float = Field(default=24, gt=0)
    # Push notifications (app/services/push.py). Web Push signs with this P-256 key
    # (URL-safe base64 of the raw 32-byte private key, or of its DER): `messenger dev` makes one
    # in DATA_DIR/vapid_private_key; elsewhere, without it, Web Push is off (http pushers work).
    vapid_private_key: str | None = None
    vapid_subject: str | None = None  # mailto: or https: contact the push services may use
    push_delay: float = Field(default=5, ge=0)  # seconds a message may stay unacked before a push
    push_preview: bool = True  # False: pushes carry no sender name and no text
    # Push targets in loopback, private, link-local or reserved networks are refused unless this
    # is true or they are in WEBHOOK_ALLOWED_NETWORKS (`messenger dev` and the tests set it).
    push_allow_private_targets: bool = False
    # Bots (app/services/bots.py): sends per RATE_LIMIT_WINDOW, and bots one user may own.
    bot_rate_limit: int = Field(default=60, gt=0)
    bots_per_user: int = Field(default=20, gt=0)
    # Reports of messages per user per hour (app/services/reports.py).
    report_rate_limit: int = Field(default=20, gt=0)
    # Webhooks (app/services/webhooks.py): events per POST, seconds per attempt, seconds
    # without a success before the webhook is disabled.
    webhook_batch: int = Field(default=100, ge=1, le=1000)
    webhook_timeout: float = Field(default=10, gt=0, le=60)
    webhook_disable_after: float = Field(default=86_400, gt=0)
    webhook_allow_http: bool = False
    # CIDRs (comma- or space-separated) exempt from the private-address refusal of webhook
    # targets (app/outbound.py): tests, receivers on premises.
    webhook_allowed_networks: str = ""
    # Messages an account erasure wipes per transaction (workers/jobs.py `erase`).
    erase_batch_size: int = Field(default=500, gt=0, le=10_000)
    # Days after which every message is removed as a disappearing one is (unset: kept forever).
    message_retention_days: float | None = Field(default=None, gt=0)

    def outbound_networks(self, *, push: bool = False) -> list[Any]:
        """Networks outgoing requests to user-chosen URLs may reach besides public addresses
        (app/outbound.py): WEBHOOK_ALLOWED_NETWORKS, and for push targets every address when
        PUSH_ALLOW_PRIVATE_TARGETS."""
        from app.outbound import EVERYWHERE, parse_networks

        if push and self.push_allow_private_targets:
            return list(EVERYWHERE)
        return parse_networks(self.webhook_allowed_networks)

    def media_url(self) -> str:
        return self.storage_url or f"file://{os.path.abspath(os.path.join(self.data_dir, 'media'))}"

    def require_runtime(self) -> None:
        """Refuse to start without what every process needs; no silent defaults for secrets."""
        missing = [
            name
            for name, value in (
                ("DATABASE_URL", self.database_url),
                ("REDIS_URL", self.redis_url),
                ("SECRET_KEY", self.secret_key),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                f"missing setting(s): {', '.join(missing)} "
                "(set them in the environment or .env; `messenger dev` provides them itself)"
            )

    def require_push(self) -> None:
        """A VAPID key must come with its subject (RFC 8292: push services may refuse a JWT
        without `sub`), and must load; checked at start-up, so a typo never waits for a push."""
        if not self.vapid_private_key:
            return
        if not self.vapid_subject or not self.vapid_subject.startswith(("mailto:", "https:")):
            raise ConfigError("VAPID_SUBJECT must be set to a mailto: or https: URL when VAPID_PRIVATE_KEY is set")
        from app.services.vapid import VapidKey

        try:
            VapidKey.load(self.vapid_private_key, self.vapid_subject)
        except ValueError as exc:
            raise ConfigError(f"VAPID_PRIVATE_KEY is not a P-256 private key ({exc})") from None

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks_parse(cls, value: str) -> str:
        from app.outbound import parse_networks

        parse_networks(value)  # ValueError names the bad entry
        return value

    @field_validator("delivery_partitions")
    @classmethod
    def _partitions_divide_the_slots(cls, value: int) -> int:
        if OUTBOX_SLOTS % value:
            raise ValueError(f"DELIVERY_PARTITIONS must be a power of two up to {OUTBOX_SLOTS} (1, 2, 4, ... {OUTBOX_SLOTS})")
        return value


def tortoise_config(database_url: str, pool_size: int | None = None) -> dict[str, Any]:
    if pool_size and "maxsize=" not in database_url:
        database_url += ("&" if "?" in database_url else "?") + f"maxsize={pool_size}"
    return {
        "connections": {"default": database_url},
        "apps": {"models": {"models": MODEL_MODULES, "default_connection": "default"}},
        "use_tz": True,
        "timezone": "UTC",
    }


# Aerich reads this module attribute; the CLI sets DATABASE_URL before aerich runs.
TORTOISE_ORM = tortoise_config(os.environ.get("DATABASE_URL", "postgres://localhost/messenger"))
