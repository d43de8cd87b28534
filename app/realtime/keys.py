"""Every Redis key and channel name, in one place (as arq's constants.py does)."""

from __future__ import annotations

# Pub/sub channels
USER_CHANNEL = "mc:user:{user_id}"  # inbox events and ephemeral events for one user
INSTANCE_CHANNEL = "mc:instance:{instance_id}"  # replays addressed to one API instance
REVOCATIONS_CHANNEL = "mc:revoked"  # session ids whose sockets must close with 4401
WORKER_WAKE_CHANNEL = "mc:worker:wake"  # tells idle workers to poll arq now

# Keys
REVOKED_SESSION = "mc:revoked:{session_id}"  # present while the session's access tokens live
REVOCATIONS_LOADED = "mc:revoked:loaded"  # absent after a Redis restart: reload from PostgreSQL
WS_TICKET = "mc:ticket:{ticket}"
SEND_RATE = "mc:rate:send:{user_id}"
LOGIN_FAILURES = "mc:rate:login:{scope}:{key}"
PRESENCE = "mc:presence:{user_id}"  # hash connection id -> expiry; online while non-empty
DELIVERY_EPOCH = "mc:deliver:epoch"  # see workers/jobs.py: collapses delivery jobs


def user_channel(user_id: int) -> str:
    return USER_CHANNEL.format(user_id=user_id)


def instance_channel(instance_id: str) -> str:
    return INSTANCE_CHANNEL.format(instance_id=instance_id)
