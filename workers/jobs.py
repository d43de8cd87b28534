"""Thin arq jobs: each reloads from PostgreSQL and is safe to run twice (arq is at-least-once)."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from arq import Retry
from arq.connections import ArqRedis
from redis.exceptions import RedisError

from app import keys, metrics
from app.realtime.envelopes import InboxEvents, InboxFrame, Replay, Replays
from app.realtime.routes import publish_routed
from app.services import delivery, expiry, scheduled
from app.services.accounts import enqueue_erasure, wipe_account
from app.services.attachments import remove_expired
from app.services.dispatch import enqueue_delivery
from app.services.exports import build_export, expire_exports
from app.services.push import MAX_RETRIES, PushNotifier, retry_delay, schedule
from app.services.webhooks import WebhookDelivery, enqueue_webhooks
from app.storage import accounts as account_store
from app.storage import inbox as inbox_store
from app.storage import outbox
from app.storage import webhooks as webhook_store
from workers.rounds import DrainRounds
from workers.wakes import PartitionWakes

log = logging.getLogger(__name__)

REPLAY_LIMIT = 500
SWEEP_MIN_AGE = 1.0  # seconds an outbox record may wait for its own job before the sweep takes it
DRAIN_SLICE = 10.0  # seconds one delivery job drains before handing its partition to a new job
LINGER = 2.0  # seconds an idle delivery job waits for a wake before it ends
_COMMIT_TO_PUBLISH = metrics.DELIVERY_LATENCY.labels(stage="commit_to_publish")

Job = Callable[..., Awaitable[Any]]


def instrumented(name: str) -> Callable[[Job], Job]:
    """Count every run of a job by outcome, under label `task` (never `job`: Prometheus owns
    it). arq times a job out by cancelling it through asyncio.wait_for, so a timeout and a
    shutdown cancel both arrive here as CancelledError: a run that lasted (nearly) the task's
    timeout, from ctx["job_timeouts"], is a `timeout`, any other a `cancelled`. Counted, then
    re-raised, so arq still sees the cancel."""
    metrics.prime_task(name)

    def decorator(func: Job) -> Job:
        @functools.wraps(func)
        async def wrapper(ctx: dict[str, Any], *args: Any) -> Any:
            started = time.perf_counter()
            try:
                result = await func(ctx, *args)
            except Retry:
                metrics.JOBS.labels(task=name, status="retry").inc()
                raise
            except asyncio.CancelledError:
                timeout = ctx.get("job_timeouts", {}).get(name)
                timed_out = timeout is not None and time.perf_counter() - started >= timeout * TIMEOUT_SHARE
                metrics.JOBS.labels(task=name, status="timeout" if timed_out else "cancelled").inc()
                raise
            except Exception:
                metrics.JOBS.labels(task=name, status="failed").inc()
                raise
            finally:
                metrics.JOB_DURATION.labels(task=name).observe(time.perf_counter() - started)
            metrics.JOBS.labels(task=name, status="success").inc()
            return result

        return wrapper

    return decorator


# A cancel this far into a task's timeout is its timeout (the timer starts a little before
# the job does, so the job itself sees slightly less than the whole timeout).
TIMEOUT_SHARE = 0.9


async def _publish(redis: ArqRedis, delivered: delivery.Delivered) -> None:
    """One message per gateway instance holding any recipient (app/realtime/routes.py)."""
    now = time.time()
    await publish_routed(
        redis,
        events=[
            InboxEvents(user_id=user_id, frames=[InboxFrame.render(frame) for frame in frames], published_at=now)
            for user_id, frames in delivered.frames.items()
        ],
    )
    for frames in delivered.frames.values():
        for frame in frames:
            _COMMIT_TO_PUBLISH.observe(max(0.0, now - frame["committed_at"]))


async def drain_and_publish(
    redis: ArqRedis, wanted: list[int], partitions: int, push_delay: float, *, wait: bool = True
) -> delivery.Delivered:
    """One drain transaction over these partitions, then its publish. Pushes for what it
    delivered are scheduled PUSH_DELAY (`push_delay`) seconds ahead. Without `wait`, partitions
    another drainer holds are skipped (that drainer empties them)."""
    try:
        delivered = await delivery.drain_partitions(wanted, partitions, wait=wait)
    except (OSError, ConnectionError) as exc:
        metrics.DEPENDENCY_ERRORS.labels(dependency="postgres", component="worker").inc()
        raise Retry(defer=1) from exc
    if delivered.frames:
        # Committed already: if this publish is lost, gateways catch up from PostgreSQL.
        await _publish(redis, delivered)
    if delivered.pushable:
        await _schedule_pushes(redis, delivered, push_delay)
    if delivered.webhooks:
        await _wake_webhooks(redis, delivered.webhooks)
    return delivered


async def _drain(rounds: DrainRounds, partition: int, until: float) -> tuple[int, bool]:
    """Drain the partition (in this worker's rounds) until it is empty or `until` (monotonic)
    passes; (records, empty)."""
    total = 0
    while True:
        records, complete = await rounds.drain(partition)
        total += records
        if complete:
            return total, True
        if time.monotonic() >= until:
            return total, False


async def _wake_webhooks(redis: ArqRedis, bot_ids: list[int]) -> None:
    """After the commit; a lost wake only waits for the webhook sweep (2 s)."""
    try:
        await enqueue_webhooks(redis, bot_ids)
    except (RedisError, OSError) as exc:
        metrics.DEPENDENCY_ERRORS.labels(dependency="redis", component="dispatch").inc()
        log.warning("webhook wake failed; the sweep will deliver", extra={"error": str(exc)})


async def _schedule_pushes(redis: ArqRedis, delivered: delivery.Delivered, push_delay: float) -> None:
    """Deferred push jobs for recipients with subscriptions (app/services/push.py). After the
    commit, like the publish; a failure here costs a push, never a delivery."""
    try:
        await schedule(redis, delivered.pushable, delay=push_delay)
    except (RedisError, OSError) as exc:
        metrics.DEPENDENCY_ERRORS.labels(dependency="redis", component="worker").inc()
        log.warning("push scheduling failed", extra={"error": repr(exc)})
    except Exception:  # PostgreSQL, when the subscribed-users set is being rebuilt
        log.exception("push scheduling failed")


@instrumented(keys.DELIVER_JOB)
async def deliver(ctx: dict[str, Any], partition: int) -> int:
    """Drain one outbox partition, then linger on its wake channel for LINGER seconds and
    drain again whenever a sender wakes it, so a quiet system delivers without an arq job
    per message. After DRAIN_SLICE seconds (steady load) the partition is handed to a fresh
    job, so no job runs into its timeout. The epoch moves first: any change committed before
    a sender read the epoch is seen by this job (app/services/dispatch.py)."""
    redis: ArqRedis = ctx["redis"]
    wakes: PartitionWakes = ctx["wakes"]
    rounds: DrainRounds = ctx["rounds"]
    await redis.incr(keys.DELIVERY_EPOCH.format(partition=partition))
    deadline = time.monotonic() + DRAIN_SLICE
    total = 0
    async with wakes.listening(partition) as woken:
        while True:
            woken.clear()
            records, empty = await _drain(rounds, partition, deadline)
            total += records
            if not empty or time.monotonic() >= deadline:
                break
            try:
                async with asyncio.timeout(LINGER):
                    await woken.wait()
            except TimeoutError:
                break
    # Unsubscribed: senders enqueue a job from now on. Whatever was committed before a wake
    # this job heard is drained here.
    records, empty = await _drain(rounds, partition, time.monotonic())
    total += records
    if not empty:
        await enqueue_delivery(redis, [partition])
    return total


@instrumented(keys.SWEEP_JOB)
async def sweep(ctx: dict[str, Any]) -> int:
    """Retry sweep: deliver whatever was committed but not delivered (a crash between commit
    and enqueue, a lost job, Redis restarted empty), and report the backlog."""
    backlog = await outbox.backlog()
    metrics.OUTBOX_PENDING.set(backlog["pending"])
    metrics.OUTBOX_OLDEST_AGE.set(float(backlog["oldest_age"]))
    if not backlog["pending"] or float(backlog["oldest_age"]) < SWEEP_MIN_AGE:
        return 0
    partitions: int = ctx["settings"].delivery_partitions
    until = time.monotonic() + DRAIN_SLICE
    total = 0
    # Partitions a delivery job (or an earlier sweep) is draining are skipped, not waited for:
    # under load a sweep starts every 2 s, and sweeps queued on the partitions' locks held a
    # database connection each until the pool was gone and delivery fell back to the sweeps.
    for partition in range(partitions):
        while True:
            delivered = await drain_and_publish(ctx["redis"], [partition], partitions, ctx["settings"].push_delay, wait=False)
            total += delivered.records
            if delivered.complete or time.monotonic() >= until:
                break
    return total


@instrumented(keys.FLUSH_JOB)
async def flush(ctx: dict[str, Any], instance_id: str, requests: list[list[Any]]) -> int:
    """Offline flush for a batch of one API instance's connections: each [conn_id, user_id,
    after, limit] gets its device's events after its cursor, in order, at most `limit` (what
    its send queue has room for). One reply message to the instance for the whole batch."""
    replays = await delivery.replay_many(
        [(int(user_id), int(after), max(1, min(int(limit), REPLAY_LIMIT))) for _, user_id, after, limit in requests]
    )
    answer = Replays(
        replays=[
            Replay(
                conn=str(conn_id),
                user_id=int(user_id),
                after=int(after),
                frames=[InboxFrame.render(frame) for frame in replay.frames],
                resync_to=replay.resync_to,
                complete=replay.complete,
            )
            for (conn_id, user_id, after, _), replay in zip(requests, replays)
        ]
    )
    await ctx["redis"].publish(keys.Channels.of(ctx["redis"]).instance(instance_id), answer.encode())
    return sum(len(replay.frames) for replay in replays)


@instrumented(keys.PUSH_JOB)
async def push(ctx: dict[str, Any], user_id: int, chat_id: int, from_seq: int) -> None:
    """Notify the user's subscribed devices that have not acked the chat's messages from
    `from_seq` on; a push service's transient failure is retried by arq with backoff, at most
    MAX_RETRIES times (what was sent is marked, so a retry sends only what failed)."""
    job_try: int = ctx.get("job_try", 1)
    notifier: PushNotifier = ctx["push"]
    if await notifier.notify(user_id=user_id, chat_id=chat_id, from_seq=from_seq, final_try=job_try > MAX_RETRIES):
        raise Retry(defer=retry_delay(job_try))


@instrumented(keys.PRUNE_JOB)
async def prune(ctx: dict[str, Any]) -> int:
    retention_days: int = ctx["settings"].inbox_retention_days
    return await inbox_store.prune_before(datetime.now(UTC) - timedelta(days=retention_days))


@instrumented(keys.MEDIA_CLEANUP_JOB)
async def media_cleanup(ctx: dict[str, Any]) -> int:
    """Until a run finds nothing left: uploads no message took within UPLOAD_ORPHAN_HOURS and
    the files of deleted messages (app/services/attachments.py), and account exports older
    than 7 days (app/services/exports.py)."""
    removed = 0
    while found := await remove_expired(ctx["media"], orphan_hours=ctx["settings"].upload_orphan_hours):
        removed += found
    # Account exports: archives past 7 days go, and exports pending too long are enqueued again.
    return removed + await expire_exports(ctx["redis"], ctx["media"])


ERASE_SLICE = 40.0  # seconds one erase run wipes before leaving the rest to the next (JOB_TIMEOUT 60)


async def _wipe(ctx: dict[str, Any], user_id: int) -> bool:
    settings = ctx["settings"]
    try:
        return await wipe_account(
            redis=ctx["redis"], store=ctx["media"], user_id=user_id, batch=settings.erase_batch_size,
            partitions=settings.delivery_partitions, until=time.monotonic() + ERASE_SLICE,
        )  # fmt: skip
    except (OSError, ConnectionError) as exc:
        metrics.DEPENDENCY_ERRORS.labels(dependency="postgres", component="worker").inc()
        raise Retry(defer=5) from exc


@instrumented(keys.ERASE_JOB)
async def erase(ctx: dict[str, Any], user_id: int) -> bool:
    """Finish an erased account's wipe: files and inbox (app/services/accounts.py); what one
    run leaves (a slice's end, a kill) the `erase_sweep` cron job finishes."""
    return await _wipe(ctx, user_id)


@instrumented(keys.ERASE_SWEEP_JOB)
async def erase_sweep(ctx: dict[str, Any]) -> int:
    """Resume every erasure not finished: a worker killed mid-way, an enqueue lost between
    the erasing commit and Redis. Runs the wipe itself (an `erase` job of a killed worker
    stays blocked by its in-progress key for minutes), then re-enqueues what is left."""
    pending = await account_store.pending_erasures(100)
    for user_id in pending:
        if not await _wipe(ctx, user_id):
            await enqueue_erasure(ctx["redis"], user_id)
    return len(pending)


@instrumented(keys.EXPORT_JOB)
async def export(ctx: dict[str, Any], export_id: int) -> bool:
    """Write one account export's archive to the media store (app/services/exports.py);
    idempotent: a ready export is left alone, a re-run overwrites the same object."""
    try:
        return await build_export(ctx["media"], export_id)
    except (OSError, ConnectionError) as exc:
        metrics.DEPENDENCY_ERRORS.labels(dependency="postgres", component="worker").inc()
        raise Retry(defer=5) from exc


# Seconds one webhook run sends before it goes to the back of the queue: a busy bot's job must
# not hold one of the worker's job slots while other bots' jobs wait (100 busy bots and 50
# slots gave 1.5 s of commit-to-receiver latency with a 30 s slice).
WEBHOOK_SLICE = 1.0
WEBHOOK_SWEEP_LIMIT = 1000  # webhooks one sweep enqueues
WEBHOOK_LAG_SAMPLE = 10_000  # webhooks whose lag one sweep observes


@instrumented(keys.WEBHOOK_JOB)
async def webhook(ctx: dict[str, Any], bot_id: int) -> None:
    """Send one bot's inbox to its webhook from the cursor (app/services/webhooks.py); after a
    failure, or at the slice's end, the job defers itself until the webhook is due again."""
    webhooks: WebhookDelivery = ctx["webhooks"]
    try:
        due_in = await webhooks.run(bot_id, until=time.monotonic() + WEBHOOK_SLICE)
    except (OSError, ConnectionError) as exc:
        metrics.DEPENDENCY_ERRORS.labels(dependency="postgres", component="worker").inc()
        raise Retry(defer=1) from exc
    if due_in is not None:
        raise Retry(defer=max(due_in, 0.01))


@instrumented(keys.WEBHOOK_SWEEP_JOB)
async def webhook_sweep(ctx: dict[str, Any]) -> int:
    """Enqueue every webhook that is due with events waiting and no run holding it: a job lost
    to a Redis wipe or a killed worker, or a wake that came while another run was finishing.
    Also samples every enabled webhook's cursor lag for the metrics."""
    due = await webhook_store.due(WEBHOOK_SWEEP_LIMIT)
    await enqueue_webhooks(ctx["redis"], due)
    lags = await webhook_store.lag(WEBHOOK_LAG_SAMPLE)
    for lag in lags:
        metrics.WEBHOOK_LAG.observe(lag)
    metrics.WEBHOOK_LAG_MAX.set(lags[0] if lags else 0)
    return len(due)


@instrumented(keys.SEND_SCHEDULED_JOB)
async def send_scheduled(ctx: dict[str, Any]) -> int:
    """Every second on every worker: send the scheduled messages that are due
    (app/services/scheduled.py; rows other workers hold are skipped, each is sent once)."""
    return await scheduled.send_due(ctx["redis"], partitions=ctx["settings"].delivery_partitions)


EXPIRE_SLICE = 20.0  # seconds one expiry run wipes before the next second's run goes on


@instrumented(keys.EXPIRE_JOB)
async def expire(ctx: dict[str, Any]) -> int:
    """Every second: wipe messages past their expires_at (app/services/expiry.py)."""
    return await expiry.expire_due(
        ctx["redis"], ctx["media"], partitions=ctx["settings"].delivery_partitions, until=time.monotonic() + EXPIRE_SLICE
    )


@instrumented(keys.RETAIN_JOB)
async def retain(ctx: dict[str, Any]) -> int:
    """Every 10 s, with MESSAGE_RETENTION_DAYS set: mark messages past it for the expire job."""
    days = ctx["settings"].message_retention_days
    if days is None:
        return 0
    return await expiry.mark_retention(ctx["redis"], days=days, until=time.monotonic() + EXPIRE_SLICE)
