"""Every Redis key, pub/sub channel and arq job name, in one place (as arq's constants.py
does). Neutral ground: services, workers and app/realtime/ all import it from here."""

from __future__ import annotations

from redis.asyncio import Redis

# arq jobs, by the name workers/main.py registers them under (and metrics label them with).
DELIVER_JOB = "deliver"  # drain one outbox partition (app/services/dispatch.py enqueues it)
FLUSH_JOB = "flush"  # replay a batch of connections' events (app/realtime/node.py enqueues it)
SWEEP_JOB = "sweep"  # cron: retry whatever was committed but not delivered
PRUNE_JOB = "prune"  # cron: drop inbox events past their retention
MEDIA_CLEANUP_JOB = "media_cleanup"  # cron: remove unattached uploads and deleted messages' files
PUSH_JOB = "push"  # notify one user's subscribed devices of one chat (app/services/push.py schedules it)
ERASE_JOB = "erase"  # wipe an erased account's messages, files and inbox (app/services/accounts.py)
ERASE_SWEEP_JOB = "erase_sweep"  # cron: finish erasures a killed worker left half done
EXPORT_JOB = "export"  # write an account's data archive (app/services/exports.py)
WEBHOOK_JOB = "webhook"  # POST one bot's inbox to its webhook (app/services/webhooks.py)
EXPIRE_JOB = "expire"  # cron: wipe messages past their expires_at (app/services/expiry.py)
RETAIN_JOB = "retain"  # cron: give messages past MESSAGE_RETENTION_DAYS an expires_at
SEND_SCHEDULED_JOB = "send_scheduled"  # cron: send scheduled messages that are due (app/services/scheduled.py)
WEBHOOK_SWEEP_JOB = "webhook_sweep"  # cron: enqueue webhooks with events due whose job was lost

# Keys
REVOKED_SESSION = "mc:revoked:{session_id}"  # present while the session's access tokens live
REVOCATIONS_LOADED = "mc:revoked:loaded"  # absent after a Redis restart: reload from PostgreSQL
WS_TICKET = "mc:ticket:{ticket}"
SEND_RATE = "mc:rate:send:{user_id}"
LOGIN_FAILURES = "mc:rate:login:{scope}:{key}"
PRESENCE = "mc:presence:{user_id}"  # hash connection id -> expiry; online while non-empty
DELIVERY_EPOCH = "mc:deliver:epoch:{partition}"  # see app/services/dispatch.py: collapses delivery jobs
UPLOAD_RATE = "mc:rate:upload:{user_id}"  # attachments uploaded per hour
CHAT_RATE = "mc:rate:chat:{user_id}"  # groups created and member additions
REPORT_RATE = "mc:rate:report:{user_id}"  # reports of messages per hour
SLOW_MODE = "mc:slow:{chat_id}:{user_id}"  # present while the member waits out a chat's slow mode
NEW_DEVICE_RATE = "mc:rate:device:{user_id}"  # device ids seen for the first time
WS_PENDING = "mc:ws:pending:{user_id}"  # sorted set: handshakes holding a socket slot -> expiry
TYPING = "mc:typing:{user_id}:{chat_id}"  # present for 1 s after a typing event went out
PUSH_USERS = "mc:push:users"  # set of user ids with a push subscription (the drain's cheap check)
PUSH_USERS_LOADED = "mc:push:users:loaded"  # absent after a Redis restart: reload from PostgreSQL
PUSH_JOB_ID = "push:{user_id}:{chat_id}:{window}"  # arq _job_id: one push job per chat and window
PUSH_SENT = "mc:push:sent:{user_id}:{chat_id}"  # hash subscription id -> last inbox_seq pushed
ERASE_JOB_ID = "erase:{user_id}"  # one queued erase job per account
EXPORT_JOB_ID = "export:{export_id}"  # one queued export job per export
WEBHOOK_JOB_ID = "webhook:{bot_id}"  # one queued webhook job per bot
RETENTION_CURSOR = "mc:retention:after_id"  # messages up to this id are past retention and marked
ERASING = "mc:erasing:{user_id}"  # lease of the run wiping an account (lapses when its worker dies)


class Channels:
    """Pub/sub channel names. Redis pub/sub ignores the db number, so the names carry it:
    two deployments (or test sessions) on one Redis server on different dbs never hear each
    other's events."""

    def __init__(self, db: int) -> None:
        self.prefix = f"mc:{db}:"
        self.revoked = self.prefix + "revoked"  # session ids whose sockets must close with 4401
        self.wake = self.prefix + "worker:wake"  # tells idle workers to poll arq now

    @classmethod
    def of(cls, redis: Redis) -> Channels:
        return cls(int(redis.connection_pool.connection_kwargs.get("db", 0)))

    def partition(self, partition: int) -> str:
        """Wakes a delivery job lingering on one outbox partition (workers/wakes.py)."""
        return f"{self.prefix}deliver:{partition}"

    def partition_of(self, channel: str) -> int | None:
        """The partition a `partition()` channel names; None for any other channel. The wake's
        payload is a bare b"1" (app/services/dispatch.py), so the name is all that says which."""
        head, _, number = channel.rpartition(":")
        if head + ":" != f"{self.prefix}deliver:" or not (number.isascii() and number.isdigit()):
            return None
        return int(number)

    def instance(self, instance_id: str) -> str:
        """Replays addressed to one API instance."""
        return f"{self.prefix}instance:{instance_id}"
