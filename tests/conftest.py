"""Fixtures every test uses: a real PostgreSQL database and Redis (the machine's, from
DATABASE_URL / REDIS_URL, or embedded ones), cleaned per test, and a real cluster of two
Hypercorn API processes and one arq worker process talking to them."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from app.config import OUTBOX_SLOTS
from app.services.vapid import generate_private_key
from app.storage.outbox import DELIVERY_LOCK_CLASS
from tests.support.databases import asyncpg_url, create_database, drop_database
from tests.support.processes import ROOT, Proc, free_port, start_api, start_worker
from tests.support.webhookreceiver import Receiver

TABLES = [
    "scheduled_messages", "webhook_deliveries", "webhooks", "push_subscriptions", "inbox_events", "outbox", "receipt_marks", "messages", "chat_members", "chats",
    "reports", "chat_bans", "devices", "refresh_tokens", "auth_sessions", "users",
]  # fmt: skip


@dataclass
class Backing:
    database_url: str
    redis_url: str
    admin_url: str  # the server's maintenance database, to create and drop ours
    env: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="session")
def backing() -> Iterator[Backing]:
    embedded = None
    database_url = os.environ.get("DATABASE_URL")
    redis_url = os.environ.get("REDIS_URL")
    if not database_url or not redis_url:
        from app.embedded import start_embedded

        embedded = start_embedded(ROOT / ".data" / "test", postgres=not database_url, redis=not redis_url)
        database_url = database_url or embedded.database_url
        redis_url = redis_url or embedded.redis_url
    assert database_url and redis_url
    admin_url = database_url
    name, test_url = asyncio.run(create_database(admin_url, "mc_test"))
    media = tempfile.mkdtemp(prefix="mc-test-media-")  # the session's attachments, shared by its processes
    env = {
        "DATABASE_URL": test_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-for-hs256",
        "BCRYPT_ROUNDS": "4",
        "LOG_LEVEL": "WARNING",
        "DB_POOL_SIZE": "10",  # every process of every stack shares one server's 100 connections
        # The suite registers hundreds of users from 127.0.0.1; tests of the limit use a stack.
        "REGISTER_RATE_LIMIT": "1000000",
        "STORAGE_URL": f"file://{media}",
        # Push (tests/test_push.py): a short delay, receivers on 127.0.0.1, a session's VAPID key.
        "PUSH_DELAY": "1",
        "PUSH_ALLOW_PRIVATE_TARGETS": "true",
        "VAPID_PRIVATE_KEY": generate_private_key(),
        "VAPID_SUBJECT": "mailto:tests@example.com",
        # Webhooks (tests/test_webhooks.py): receivers listen on 127.0.0.2, which alone is
        # allowed, so every other loopback form stays refused for the SSRF tests.
        "WEBHOOK_ALLOW_HTTP": "true",
        "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.2/32",
    }
    try:
        yield Backing(database_url=test_url, redis_url=redis_url, admin_url=admin_url, env=env)
    finally:
        asyncio.run(drop_database(admin_url, name))
        shutil.rmtree(media, ignore_errors=True)
        if embedded is not None:
            embedded.stop()


@dataclass
class Cluster:
    apis: list[Proc]
    workers: list[Proc]

    @property
    def api(self) -> Proc:
        return self.apis[0]


@pytest.fixture(scope="session")
def cluster(backing: Backing) -> Iterator[Cluster]:
    apis = [start_api(backing.env), start_api(backing.env)]
    workers = [start_worker(backing.env)]
    try:
        yield Cluster(apis=apis, workers=workers)
    finally:
        for proc in apis + workers:
            proc.stop()


@pytest.fixture
def live_server(cluster: Cluster) -> Proc:
    return cluster.api


@pytest.fixture
async def pg(backing: Backing) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(asyncpg_url(backing.database_url))
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def redis(backing: Backing) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(backing.redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture(autouse=True)
async def clean(request: pytest.FixtureRequest) -> None:
    """Each test that touches the backing services starts from empty tables and Redis."""
    if "backing" not in request.fixturenames and "cluster" not in request.fixturenames:
        return
    backing: Backing = request.getfixturevalue("backing")
    conn = await asyncpg.connect(asyncpg_url(backing.database_url))
    try:
        async with conn.transaction():
            # The workers may still be delivering the last test's events: take every partition's lock first
            # so TRUNCATE never deadlocks with a delivery transaction.
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1, p) FROM generate_series(0, $2 - 1) AS p",
                DELIVERY_LOCK_CLASS,
                OUTBOX_SLOTS,
            )
            await conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
    client = aioredis.Redis.from_url(backing.redis_url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


@pytest.fixture
async def http(cluster: Cluster) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=cluster.api.base_url, timeout=15.0) as client:
        yield client


@pytest.fixture
async def http2(cluster: Cluster) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the second API instance."""
    async with httpx.AsyncClient(base_url=cluster.apis[1].base_url, timeout=15.0) as client:
        yield client


@pytest.fixture
async def stacks(backing: Backing) -> AsyncIterator[list]:  # type: ignore[type-arg]
    """Factory of isolated systems (own database, Redis process, API and worker processes).

    Call `await make_stack(stacks, backing, **env)`; every stack is torn down after the test.
    """
    made: list = []  # type: ignore[type-arg]
    try:
        yield made
    finally:
        from tests.support.stack import drop_stack

        for stack in made:
            await drop_stack(stack)


async def make_stack(stacks: list, backing: Backing, *, locale: str | None = None, **env: str):  # type: ignore[no-untyped-def,type-arg]
    from tests.support.stack import create_stack

    stack = await create_stack(backing.admin_url, backing.env, locale=locale, **env)
    stacks.append(stack)
    return stack


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[Callable[[], Receiver]]:
    """Factory of webhook receiver processes on 127.0.0.2 (tests/support/webhookreceiver.py),
    stopped after the test; each one's secret is set once its bot exists."""
    made: list[Receiver] = []

    def make() -> Receiver:
        receiver = Receiver(port=free_port(), secret="", log=tmp_path / f"received-{len(made)}.jsonl")
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.stop()
