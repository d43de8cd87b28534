"""Minutes of moderate load; API and worker memory stay flat, and after the load
stops nothing is left behind (outbox empty, Redis keys back to their idle set)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from app.config import Settings
from tests.conftest import make_stack
from tests.faults.harness import Load
from tests.support.databases import asyncpg_url

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "120"))
PAIRS = 10
RATE_PER_SENDER = 5.0  # 50 messages/s


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.mark.timeout(int(SOAK_SECONDS) + 240)
async def test_soak_memory_flat_and_nothing_left_behind(backing, stacks):
    stack = await make_stack(stacks, backing, RATE_LIMIT_MESSAGES="100000")
    api = await asyncio.to_thread(stack.add_api)
    worker = await asyncio.to_thread(stack.add_worker)
    load = await Load.create([api.base_url], [api.ws_url], PAIRS)
    load.start(RATE_PER_SENDER)
    samples: list[tuple[float, float, float]] = []
    started = time.monotonic()
    while time.monotonic() - started < SOAK_SECONDS:
        await asyncio.sleep(5)
        samples.append((time.monotonic() - started, rss_mib(api.popen.pid), rss_mib(worker.popen.pid)))
    await load.stop()
    report = load.report("soak", None)
    await asyncio.sleep(3)  # the sweep's next pass, acks flushed
    client = aioredis.Redis.from_url(stack.redis.url)
    try:
        keys = sorted(k.decode() for k in await client.keys("*"))
        ttls = {key: await client.pttl(key) for key in keys}
    finally:
        await client.aclose()
    conn = await asyncpg.connect(asyncpg_url(stack.database_url))
    try:
        outbox = await conn.fetchval("SELECT count(*) FROM outbox")
        unacked = await conn.fetchval(
            "SELECT count(*) FROM devices d JOIN users u ON u.id = d.user_id WHERE d.acked_seq < u.inbox_seq"
        )
    finally:
        await conn.close()

    warm = [s for s in samples if s[0] >= SOAK_SECONDS / 3]
    api_growth = warm[-1][1] - warm[0][1]
    worker_growth = warm[-1][2] - warm[0][2]
    print(f"\nSOAK {report.line()}")
    print(f"SOAK rss api {warm[0][1]:.0f}->{warm[-1][1]:.0f} MiB, worker {warm[0][2]:.0f}->{warm[-1][2]:.0f} MiB")
    print(f"SOAK after load: {len(keys)} redis keys, outbox {outbox}, devices behind {unacked}")
    assert report.lost == 0 and report.gaps == 0 and report.acknowledged > SOAK_SECONDS * 20
    assert outbox == 0
    assert unacked == 0  # every device acked everything: no inbox backlog
    # What Redis holds when idle: arq's health check, one delivery epoch per outbox partition,
    # presence and rate windows of the last seconds, and arq's markers of recent cron runs.
    # Everything but the epochs and the health check expires by itself; nothing is kept per
    # message or per job.
    # (arq:queue and arq:job:<cron>:* are the next cron run, already scheduled; in-progress and
    # retry markers are a cron run under way when the snapshot was taken, or just finished.)
    crons = ("sweep", "prune", "erase_sweep", "media_cleanup", "webhook_sweep", "send_scheduled", "expire", "retain")
    allowed = (
        "arq:health-check", "arq:queue",
        *(f"arq:{kind}:{cron}:" for cron in crons for kind in ("job", "in-progress", "retry")),
        "mc:deliver:epoch", "mc:revoked:loaded", "mc:push:users:loaded", "mc:presence:", "mc:rate:",
    )  # fmt: skip
    assert [k for k in keys if not k.startswith(allowed)] == []
    epochs = [k for k in keys if k.startswith("mc:deliver:epoch:")]
    assert len(epochs) <= Settings().delivery_partitions, epochs  # one per partition, at most
    constant = ("mc:revoked:loaded", "mc:push:users:loaded", "arq:health-check", "arq:queue", *epochs)
    assert [k for k in keys if ttls[k] < 0 and k not in constant] == []
    queued = [k for k in keys if k.startswith("arq:job:")]
    assert len(queued) <= len(crons), queued  # at most the next run of each cron: nothing per message
    assert api_growth < 40 and worker_growth < 40, (api_growth, worker_growth)
