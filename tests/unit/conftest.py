"""The unit layer: in-process tests of single modules, no servers.

The root conftest's autouse `clean` fixture empties PostgreSQL and Redis before any test that
asks for `backing` or `cluster`; here it is replaced by a no-op of the same name, so nothing in
this directory can start a database or a cluster by accident. A unit that needs a real service
asks for it explicitly through the fixtures below."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def clean() -> None:
    """No per-test cleaning of shared services: unit tests use none unless they say so."""


@pytest.fixture(scope="module")
async def app(backing):  # type: ignore[no-untyped-def]
    """The API app in this process (Quart's test harness, no Hypercorn), started with its
    real dependencies: the session's PostgreSQL database (created and migrated by the root
    `backing` fixture, no cluster) and Redis, flushed first so rate-limit counters of an
    earlier run cannot leak in."""
    import redis.asyncio as aioredis

    from app.config import Settings
    from app.server import create_app

    client = aioredis.Redis.from_url(backing.redis_url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
    settings = Settings(**{name.lower(): value for name, value in backing.env.items()})
    quart_app = create_app(settings)
    async with quart_app.test_app() as test_app:
        yield test_app
