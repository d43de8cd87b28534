"""Under steady load over two API instances and two workers, inject each fault, then
all of them at once, and prove every acknowledged message reached its recipient's device with
no gap. Each fault prints: sent, acknowledged, delivered, lost, duplicates, time to recover."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from tests.conftest import Backing, make_stack
from tests.faults.harness import Load, Report
from tests.support.databases import asyncpg_url
from tests.support.proxy import TcpProxy, proxy_for
from tests.support.stack import Stack

PAIRS = 6
RATE_PER_SENDER = 8.0  # ~50 messages/s in all
BEFORE, AFTER = 2.0, 4.0  # seconds of load around the fault
REPORTS: list[Report] = []


@pytest.fixture
async def system(backing: Backing, stacks: list) -> AsyncIterator[tuple[Stack, TcpProxy]]:  # type: ignore[type-arg]
    stack = await make_stack(stacks, backing, RATE_LIMIT_MESSAGES="100000")
    proxy, proxied_url = proxy_for(stack.database_url)
    stack.env["DATABASE_URL"] = proxied_url
    await asyncio.to_thread(lambda: [stack.add_api(), stack.add_api(), stack.add_worker(), stack.add_worker()])
    try:
        yield stack, proxy
    finally:
        proxy.close()


async def diagnose(stack: Stack, load: Load, injected_at: float) -> str:
    """Where each lost message stopped: its row, its outbox record, its inbox event, the device's
    cursor, how the sender got it acknowledged and the recipient's connections. Every line
    starts with LOST so `make test-faults-stress` can keep them."""
    conn = await asyncpg.connect(asyncpg_url(stack.env["DATABASE_URL"]))
    lines = []
    try:
        lines.append(f"LOST outbox rows left={await conn.fetchval('SELECT count(*) FROM outbox')}")
        for sender, recipient in zip(load.senders, load.recipients, strict=True):
            for mid in sorted(set(sender.acked) - set(recipient.received)):
                message = await conn.fetchrow("SELECT chat_id, seq, created_at FROM messages WHERE id = $1", mid)
                outbox = await conn.fetchval(
                    "SELECT count(*) FROM outbox WHERE (payload->>'message_id')::bigint = $1", mid
                )
                events = await conn.fetch(
                    "SELECT inbox_seq FROM inbox_events WHERE user_id = $1 AND message_id = $2 AND type = 'message'",
                    recipient.user.id,
                    mid,
                )
                cursor = await conn.fetchval(
                    "SELECT acked_seq FROM devices WHERE user_id = $1 AND device_id = $2",
                    recipient.user.id,
                    recipient.device_id,
                )
                last = await conn.fetchval("SELECT inbox_seq FROM users WHERE id = $1", recipient.user.id)
                lines.append(
                    f"LOST message {mid} (chat {message and message['chat_id']} seq {message and message['seq']}): "
                    f"acked at {sender.acked[mid] - injected_at:+.2f}s after the fault, "
                    f"{sender.acked[mid] - (load.recipients_stopped_at or 0):+.2f}s after the recipients stopped, "
                    f"via {sender.trail.get(mid)}; "
                    f"outbox={outbox} inbox_seqs={[e['inbox_seq'] for e in events]} device cursor={cursor} "
                    f"user last={last} seen max={max(recipient.seqs, default=0)} seen={len(recipient.seqs)} "
                    f"reconnects={recipient.reconnects}"
                )
                for opened, url, start, first, latest, code in recipient.connections[-6:]:
                    lines.append(
                        f"LOST   connection at {float(opened) - injected_at:+.2f}s {url} cursor={start} "
                        f"first={first} last={latest} closed={code}"
                    )
    finally:
        await conn.close()
    return "\n".join(lines)


async def run_fault(stack: Stack, name: str, inject: Callable[[], Awaitable[None]]) -> Report:
    load = await Load.create([a.base_url for a in stack.apis], [a.ws_url for a in stack.apis], PAIRS)
    load.start(RATE_PER_SENDER)
    await asyncio.sleep(BEFORE)
    injected_at = time.monotonic()
    await inject()
    await asyncio.sleep(AFTER)
    await load.stop()
    report = load.report(name, injected_at)
    REPORTS.append(report)
    print("\nFAULT " + report.line())
    if report.lost:
        print(await diagnose(stack, load, injected_at))
    return report


def assert_nothing_lost(report: Report) -> None:
    assert report.acknowledged > 0
    assert report.lost == 0, report.line()
    assert report.gaps == 0, report.line()
    assert report.resyncs == 0, report.line()
    assert report.recover_s is not None, report.line()


def restart(stack: Stack, proc_list: list, index: int) -> None:  # type: ignore[type-arg]
    """Start a fresh process in place of a killed one."""
    from tests.support.processes import start_api, start_worker

    old = proc_list[index]
    proc_list[index] = start_api(old.env, old.port) if old.name == "api" else start_worker(old.env)


def sigkill_then_restart(stack: Stack, proc_list: list, down_s: float) -> Callable[[], Awaitable[None]]:  # type: ignore[type-arg]
    """A fault: SIGKILL the first process of proc_list, leave it down for down_s, start a fresh one."""

    async def inject() -> None:
        proc_list[0].signal(signal.SIGKILL)
        await asyncio.sleep(down_s)
        await asyncio.to_thread(restart, stack, proc_list, 0)

    return inject


@pytest.mark.timeout(240)
async def test_fault_worker_sigkill_mid_burst(system):
    stack, _ = system
    assert_nothing_lost(await run_fault(stack, "worker SIGKILL", sigkill_then_restart(stack, stack.workers, 1.0)))


@pytest.mark.timeout(240)
async def test_fault_api_holding_sockets_sigkill(system):
    stack, _ = system
    # Half the recipients are on the first API; they move over to the other.
    assert_nothing_lost(await run_fault(stack, "API SIGKILL", sigkill_then_restart(stack, stack.apis, 1.5)))


@pytest.mark.timeout(240)
async def test_fault_redis_restarted_empty(system):
    stack, _ = system

    async def inject() -> None:
        await asyncio.to_thread(stack.redis.restart_empty, 1.0)

    assert_nothing_lost(await run_fault(stack, "Redis restarted empty", inject))


@pytest.mark.timeout(240)
async def test_fault_postgres_briefly_unreachable(system):
    stack, proxy = system

    async def inject() -> None:
        await asyncio.to_thread(proxy.cut)
        await asyncio.sleep(2.0)
        await asyncio.to_thread(proxy.restore)

    report = await run_fault(stack, "PostgreSQL unreachable 2s", inject)
    assert_nothing_lost(report)


@pytest.mark.timeout(300)
async def test_fault_everything_at_once(system):
    stack, proxy = system

    async def inject() -> None:
        stack.workers[1].signal(signal.SIGKILL)
        stack.apis[1].signal(signal.SIGKILL)
        await asyncio.to_thread(stack.redis.restart_empty, 0.5)
        await asyncio.to_thread(proxy.cut)
        await asyncio.sleep(1.5)
        await asyncio.to_thread(proxy.restore)
        await asyncio.to_thread(restart, stack, stack.workers, 1)
        await asyncio.to_thread(restart, stack, stack.apis, 1)

    assert_nothing_lost(await run_fault(stack, "all combined", inject))


def test_fault_summary_printed(capsys):
    """Prints the table the README quotes (the faults above each asserted zero loss)."""
    with capsys.disabled():
        print("\n=== fault suite ===")
        for report in REPORTS:
            print(report.line())
    assert all(r.lost == 0 for r in REPORTS)
