"""Throwaway PostgreSQL databases: one per test session (tests/conftest.py), per fault-test
stack (tests/support/stack.py) and per bench run (tests/bench/system.py). Each is created on
the server an admin URL points at, migrated, and dropped WITH (FORCE) at the end, so a process
killed mid-test cannot keep it alive."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg


def with_db(url: str, name: str) -> str:
    """The same server URL naming another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def asyncpg_url(url: str) -> str:
    """asyncpg wants the postgresql:// scheme; the app's settings use postgres://."""
    return url.replace("postgres://", "postgresql://", 1)


async def create_database(admin_url: str, prefix: str, *, locale: str | None = None) -> tuple[str, str]:
    """A new, migrated database `<prefix>_<random>` on admin_url's server: (name, url); with
    `locale`, its collation and ctype (as a server initialised without LANG has: "C")."""
    from app.migrate import migrate

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    options = f" TEMPLATE template0 ENCODING 'UTF8' LOCALE '{locale}'" if locale else ""
    conn = await asyncpg.connect(asyncpg_url(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"{options}')
    finally:
        await conn.close()
    url = with_db(admin_url, name)
    try:
        await migrate(url)
    except BaseException:
        await drop_database(admin_url, name)  # nobody else knows its name
        raise
    return name, url


async def drop_database(admin_url: str, name: str) -> None:
    """Drop it even while servers that were killed still hold connections to it."""
    conn = await asyncpg.connect(asyncpg_url(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
