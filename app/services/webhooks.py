"""A bot's inbox delivered to its webhook with the inbox's own guarantees: every event, in
inbox_seq order, with no gap, at least once.

The cursor lives in PostgreSQL and moves only after a 2xx, so nothing Redis or a worker loses
can skip an event: a killed run's lease lapses and the next run sends the same batch again;
a Redis wipe loses queued jobs, and the `webhook_sweep` cron job enqueues every webhook that
is due and has events waiting. Each bot has its own job (one id per bot): a slow or failing
receiver holds only its own bot's job, and a bot with nothing waiting costs no job at all.

A batch is named (`delivery_id`, up to `batch_last`) before its first attempt, so retries
carry the same events under the same id. Failures back off exponentially with jitter (1 s
doubling to 5 min); after WEBHOOK_DISABLE_AFTER without a success the webhook is disabled and
its owner gets `bot_updated`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from arq.connections import ArqRedis

from app import keys, metrics
from app.db import transaction
from app.jsonutil import dumps
from app.outbound import Answer, OutboundClient
from app.services.delivery import render_events
from app.services.dispatch import enqueue_delivery, partition_of
from app.services.views import bot_body
from app.storage import bots as bot_store
from app.storage import inbox as inbox_store
from app.storage import outbox
from app.storage import webhooks as webhook_store

log = logging.getLogger(__name__)

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 300.0
LEASE_SLACK = 15.0  # seconds a lease outlives the attempt's timeout, so a live run never loses it


def backoff(attempt: int) -> float:
    """Seconds before the attempt after `attempt` failures: 1, 2, 4 ... 300, each within ±25 %
    so that receivers recovering together are not hit by every bot at once."""
    base = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(attempt - 1, 0))
    return float(min(BACKOFF_MAX, base * random.uniform(0.75, 1.25)))


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`X-Messenger-Signature`: HMAC-SHA256 over "<t>.<raw body>" with the webhook secret."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


async def enqueue_webhooks(redis: ArqRedis, bot_ids: list[int]) -> None:
    """Wake each bot's webhook job (one per bot: an id already queued or running collapses)."""
    for bot_id in bot_ids:
        await redis.enqueue_job(keys.WEBHOOK_JOB, bot_id, _job_id=keys.WEBHOOK_JOB_ID.format(bot_id=bot_id))
    if bot_ids:
        await redis.publish(keys.Channels.of(redis).wake, b"1")


@dataclass(frozen=True)
class WebhookSettings:
    batch: int
    timeout: float
    disable_after: float


@dataclass(frozen=True)
class Outcome:
    sent: bool  # the batch was accepted (the cursor moved)
    retry_in: float | None = None  # seconds until the next attempt is due (after a failure)


class WebhookDelivery:
    def __init__(self, redis: ArqRedis, client: OutboundClient, settings: WebhookSettings) -> None:
        self._redis = redis
        self._client = client
        self._settings = settings

    async def run(self, bot_id: int, *, until: float) -> float | None:
        """Send batches until nothing is due or `until` (monotonic) passes. Returns the seconds
        until this webhook is next due (the job defers itself that long), or None when it has
        nothing to do (or another run holds it)."""
        while time.monotonic() < until:
            token = uuid.uuid4()
            hook = await webhook_store.lease(bot_id, token, self._settings.timeout + LEASE_SLACK)
            if hook is None:
                return await webhook_store.due_in(bot_id)
            outcome = await self._attempt(hook, token)
            if not outcome.sent:
                return outcome.retry_in
        return 0.0

    async def _attempt(self, hook: dict[str, Any], token: uuid.UUID) -> Outcome:
        bot_id, cursor = hook["bot_id"], int(hook["cursor"])
        events, last = await self._batch(bot_id, cursor, hook["batch_last"], int(hook["head"]))
        delivery_id = hook["delivery_id"]
        if delivery_id is None or hook["batch_last"] is None:
            delivery_id = uuid.uuid4()
            await webhook_store.start_batch(bot_id, token, delivery_id, last)
        attempt = int(hook["attempt"]) + 1
        body = dumps({"bot_id": bot_id, "events": [{"type": e["type"], "data": e["data"]} for e in events]})
        now = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "MessengerCore-Webhook/1",
            "X-Messenger-Delivery": str(delivery_id),
            "X-Messenger-Attempt": str(attempt),
            "X-Messenger-Signature": signature(hook["secret"], now, body),
        }
        started = time.perf_counter()
        answer = await self._client.post(hook["url"], body=body, headers=headers, timeout=self._settings.timeout)
        duration_ms = int((time.perf_counter() - started) * 1000)
        ok = answer.error is None
        metrics.WEBHOOK_ATTEMPTS.labels(outcome=_outcome_label(answer)).inc()
        await webhook_store.log_attempt(
            bot_id=bot_id, delivery_id=delivery_id, first=cursor + 1, last=last, attempt=attempt,
            status=answer.status, duration_ms=duration_ms, error=answer.error,
        )  # fmt: skip
        if ok:
            committed = [e["committed_at"] for e in events if e.get("committed_at")]
            if committed:
                metrics.WEBHOOK_LATENCY.observe(max(0.0, time.time() - float(committed[0])))
            await webhook_store.succeeded(bot_id, token, cursor_was=cursor, last=last)
            return Outcome(sent=True)
        delay = backoff(attempt)
        retry_at = datetime.now(UTC) + timedelta(seconds=delay)
        row = await webhook_store.failed(
            bot_id, token, attempt=attempt, error=answer.error or "failed", retry_at=retry_at,
            disable_after=self._settings.disable_after,
        )  # fmt: skip
        if row is not None and row["disabled"]:
            metrics.WEBHOOKS_DISABLED.inc()
            log.warning("webhook disabled", extra={"bot_id": bot_id, "error": answer.error})
            await announce_bot(self._redis, bot_id, row["owner_id"])
            return Outcome(sent=False, retry_in=None)
        return Outcome(sent=False, retry_in=delay)

    async def _batch(self, bot_id: int, cursor: int, batch_last: int | None, head: int) -> tuple[list[dict[str, Any]], int]:
        """The events after the cursor (the batch in flight's, on a retry), rendered as the
        bot's devices get them; events pruned from the inbox become one `gap` marker."""
        last = batch_last if batch_last is not None else min(head, cursor + self._settings.batch)
        [rows] = await inbox_store.events_after_many([(bot_id, cursor, max(last - cursor, 1))])
        rows = [row for row in rows if row["inbox_seq"] <= last]
        events = await render_events(rows)
        first = rows[0]["inbox_seq"] if rows else last + 1
        if first > cursor + 1:
            events.insert(0, {"type": "gap", "data": {"from_inbox_seq": cursor + 1, "to_inbox_seq": first - 1}})
        if batch_last is None and rows:
            last = rows[-1]["inbox_seq"]
        return events, last


def _outcome_label(answer: Answer) -> str:
    if answer.error is None:
        return "success"
    if answer.refused:
        return "refused"
    return "http_error" if answer.status is not None else "no_answer"


async def announce_bot(redis: ArqRedis, bot_id: int, owner_id: int) -> None:
    """`bot_updated` {bot, webhook} to the owner, as an inbox event (so a device offline now
    still gets it); records without a chat go through partition 0."""
    async with transaction() as conn:
        row = await bot_store.owned(owner_id, bot_id, conn)
        if row is None:
            return
        await outbox.record(type="bot_updated", chat_id=None, payload=bot_body(row), user_ids=[owner_id], conn=conn)
    await enqueue_delivery(redis, [partition_of(None, 1)])
