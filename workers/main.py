"""`messenger worker`: an arq worker that wakes on a Redis signal instead of waiting out its
poll delay, so a job enqueued now starts in about a millisecond."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
from typing import Any, cast

import uvloop
from arq import cron
from arq.connections import RedisSettings, create_pool
from arq.cron import CronJob
from arq.typing import WorkerCoroutine
from arq.worker import Function, Worker, func
from prometheus_client import start_http_server
from redis.exceptions import RedisError

from app import keys, metrics
from app.config import ConfigError, Settings
from app.db import close_db, init_db
from app.logs import setup_logging
from app.media.store import open_store
from app.outbound import OutboundClient
from app.services.push import MAX_RETRIES, PushNotifier
from app.services.pushsend import PushSender
from app.services.registry import vapid_key
from app.services.webhooks import WebhookDelivery, WebhookSettings
from workers import jobs
from workers.rounds import DrainRounds
from workers.wakes import PartitionWakes

log = logging.getLogger(__name__)

JOB_TIMEOUT = 60  # also bounds how long a SIGKILLed job's in-progress key blocks a re-run
PUSH_TIMEOUT = 30  # a push job's sends run at once, each bounded by pushsend.SEND_TIMEOUT (10 s)


class WakeableWorker(Worker):
    """arq's Worker with its fixed-delay poll replaced by "poll now if woken, else after
    poll_delay". Everything else (in-progress keys, retries, cron) is arq's own."""

    async def main(self) -> None:
        if self._pool is None:
            self._pool = await create_pool(
                self.redis_settings,
                job_deserializer=self.job_deserializer,
                job_serializer=self.job_serializer,
                default_queue_name=self.queue_name,
                expires_extra_ms=self.expires_extra_ms,
            )
        self.ctx["redis"] = self.pool
        if self.on_startup:
            await self.on_startup(self.ctx)
        wake = asyncio.Event()
        listener = asyncio.create_task(self._listen_for_wake(wake))
        try:
            while True:
                wake.clear()  # a wake arriving during the poll below triggers the next one
                try:
                    await self._poll_iteration()
                except (RedisError, OSError) as exc:
                    # Redis restarting must not end the worker: arq's loop would raise here.
                    metrics.DEPENDENCY_ERRORS.labels(dependency="redis", component="worker").inc()
                    log.warning("poll failed; retrying", extra={"error": repr(exc)})
                    self._release_leaked_slots()
                    await asyncio.sleep(0.5)
                    continue
                try:
                    async with asyncio.timeout(self.poll_delay_s):  # wait_for may eat a cancel on 3.11
                        await wake.wait()
                except TimeoutError:
                    pass
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)

    def _release_leaked_slots(self) -> None:
        # start_jobs takes a slot before its Redis calls; when those fail the slot is never
        # given back, and enough failures would stop this worker picking jobs at all.
        running = sum(1 for task in self.tasks.values() if not task.done())
        while self.job_counter > running:
            self.job_counter -= 1
            self.sem.release()

    async def _listen_for_wake(self, wake: asyncio.Event) -> None:
        while True:
            pubsub = self.pool.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(keys.Channels.of(self.pool).wake)
                wake.set()  # anything enqueued while we were not listening
                while True:
                    if await pubsub.get_message(timeout=1.0) is not None:
                        wake.set()
            except asyncio.CancelledError:
                await pubsub.aclose()
                raise
            except (RedisError, OSError):
                metrics.DEPENDENCY_ERRORS.labels(dependency="redis", component="worker").inc()
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()


async def on_startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    assert settings.database_url
    await init_db(settings.database_url, settings.db_pool_size)
    ctx["wakes"] = PartitionWakes(ctx["redis"])
    ctx["wakes"].start()
    ctx["rounds"] = DrainRounds(
        functools.partial(jobs.drain_and_publish, ctx["redis"], partitions=settings.delivery_partitions, push_delay=settings.push_delay)
    )
    ctx["media"] = open_store(settings.media_url())
    # One client for every user-chosen URL; push targets may also be allowed everywhere.
    ctx["outbound"] = OutboundClient(allowed=settings.outbound_networks())
    ctx["push_outbound"] = OutboundClient(allowed=settings.outbound_networks(push=True))
    ctx["push_sender"] = PushSender(vapid=vapid_key(settings), client=ctx["push_outbound"])
    ctx["push"] = PushNotifier(ctx["redis"], ctx["push_sender"], preview=settings.push_preview)
    ctx["webhooks"] = WebhookDelivery(
        ctx["redis"], ctx["outbound"],
        WebhookSettings(batch=settings.webhook_batch, timeout=settings.webhook_timeout, disable_after=settings.webhook_disable_after),
    )  # fmt: skip
    start_metrics_server(settings)



async def on_shutdown(ctx: dict[str, Any]) -> None:
    await ctx["wakes"].stop()
    await ctx["rounds"].close()
    await ctx["media"].close()
    await ctx["outbound"].close()
    await ctx["push_outbound"].close()
    await close_db()


def worker_settings(settings: Settings) -> dict[str, Any]:
    assert settings.redis_url
    functions = [
        func(cast(WorkerCoroutine, jobs.deliver), name=keys.DELIVER_JOB, keep_result=0, timeout=JOB_TIMEOUT, max_tries=20),
        func(cast(WorkerCoroutine, jobs.flush), name=keys.FLUSH_JOB, keep_result=0, timeout=JOB_TIMEOUT, max_tries=5),
        # One try and MAX_RETRIES retries (the job stops asking for more on its last try).
        func(cast(WorkerCoroutine, jobs.push), name=keys.PUSH_JOB, keep_result=0, timeout=PUSH_TIMEOUT, max_tries=MAX_RETRIES + 1),
        func(cast(WorkerCoroutine, jobs.erase), name=keys.ERASE_JOB, keep_result=0, timeout=JOB_TIMEOUT, max_tries=10),
        func(cast(WorkerCoroutine, jobs.export), name=keys.EXPORT_JOB, keep_result=0, timeout=600, max_tries=5),
        # Retries are the webhook's own backoff (it defers itself until due): never give up here.
        func(cast(WorkerCoroutine, jobs.webhook), name=keys.WEBHOOK_JOB, keep_result=0, timeout=JOB_TIMEOUT, max_tries=10**9),
    ]
    cron_jobs = [
        cron(cast(WorkerCoroutine, jobs.sweep), name=keys.SWEEP_JOB, second=set(range(0, 60, 2)), keep_result=0, timeout=JOB_TIMEOUT),
        cron(cast(WorkerCoroutine, jobs.prune), name=keys.PRUNE_JOB, minute=17, second=0, keep_result=0, timeout=600),
        cron(
            cast(WorkerCoroutine, jobs.media_cleanup), name=keys.MEDIA_CLEANUP_JOB,
            minute=set(range(5, 60, 10)), second=30, keep_result=0, timeout=600,
        ),
        cron(
            cast(WorkerCoroutine, jobs.erase_sweep), name=keys.ERASE_SWEEP_JOB,
            second=set(range(0, 60, 5)), keep_result=0, timeout=JOB_TIMEOUT,
        ),
        # Every second: a disappearing message is gone within 5 s of its expires_at.
        cron(
            cast(WorkerCoroutine, jobs.expire), name=keys.EXPIRE_JOB,
            second=set(range(60)), keep_result=0, timeout=JOB_TIMEOUT,
        ),
        cron(
            cast(WorkerCoroutine, jobs.retain), name=keys.RETAIN_JOB,
            second=set(range(5, 60, 10)), keep_result=0, timeout=JOB_TIMEOUT,
        ),
        # Every second: a scheduled message goes out within 2 s of its send_at.
        cron(
            cast(WorkerCoroutine, jobs.send_scheduled), name=keys.SEND_SCHEDULED_JOB,
            second=set(range(60)), keep_result=0, timeout=JOB_TIMEOUT,
        ),
        cron(
            cast(WorkerCoroutine, jobs.webhook_sweep), name=keys.WEBHOOK_SWEEP_JOB,
            second=set(range(1, 60, 2)), keep_result=0, timeout=JOB_TIMEOUT,
        ),
    ]
    # jobs.instrumented tells a timeout from a shutdown cancel by the task's timeout.
    all_jobs: list[Function | CronJob] = [*functions, *cron_jobs]
    job_timeouts = {job.name: job.timeout_s for job in all_jobs if job.timeout_s}
    return {
        "functions": functions,
        "cron_jobs": cron_jobs,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "ctx": {"settings": settings, "job_timeouts": job_timeouts},
        "max_jobs": 50,
        "poll_delay": 0.5,
        "keep_result": 0,
        "health_check_interval": 10,
        "handle_signals": True,
    }


def check_metrics_port(settings: Settings) -> None:
    """Fail start-up at once, naming the setting, when WORKER_METRICS_HOST:WORKER_METRICS_PORT
    cannot be bound (ConfigError: a one-line message and exit code 2, no traceback).
    `messenger dev` picks a free port before it gets here. The server itself starts in
    on_startup, once the database is up, so an answering /metrics still means a ready worker."""
    if not settings.worker_metrics_port:
        return
    host, port = settings.worker_metrics_host, settings.worker_metrics_port
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as http.server does
            probe.bind(infos[0][4])
    except OSError as exc:
        raise ConfigError(
            f"the worker's metrics server cannot listen on {host}:{port} ({exc.strerror or exc}); "
            "set WORKER_METRICS_PORT to a free port (0 turns the worker's metrics off) "
            "or WORKER_METRICS_HOST to another address"
        ) from None


def start_metrics_server(settings: Settings) -> None:
    if settings.worker_metrics_port:
        metrics.prime("worker")
        start_http_server(settings.worker_metrics_port, addr=settings.worker_metrics_host)


def run_worker(settings: Settings) -> None:
    setup_logging(settings.log_level)
    check_metrics_port(settings)
    settings.require_push()
    uvloop.install()

    async def run() -> None:
        worker = WakeableWorker(**worker_settings(settings))
        try:
            await worker.async_run()
        except asyncio.CancelledError:  # SIGTERM/SIGINT: arq cancelled and re-queued jobs in hand
            pass
        finally:
            await worker.close()

    asyncio.run(run())
