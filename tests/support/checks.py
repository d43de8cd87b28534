"""Shared helpers of the REST tests: chats, the error envelope, waiting on the worker."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from arq import create_pool
from arq.connections import RedisSettings

from tests.support.clients import User


async def group_chat(http: httpx.AsyncClient, owner: User, *members: User, title: str = "team") -> dict[str, Any]:
    r = await http.post(
        "/chats", json={"type": "group", "title": title, "member_ids": [m.id for m in members]}, headers=owner.headers
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The contract's one error shape: {"error": {"code", "message", "details"}}."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"], error
    assert "Traceback" not in r.text
    return error  # type: ignore[no-any-return]


def bad_fields(r: httpx.Response) -> set[str]:
    """422 validation_error whose details is a list of {field, message}; the fields named."""
    error = assert_error(r, 422, "validation_error")
    details = error["details"]
    assert isinstance(details, list) and details, error
    for item in details:
        assert set(item) == {"field", "message"}, item
        assert isinstance(item["field"], str) and isinstance(item["message"], str) and item["message"]
    return {item["field"] for item in details}


def assert_envelope(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """As assert_error, returning the whole body."""
    return {"error": assert_error(r, status, code)}


def fields_named(body: dict[str, Any]) -> set[str]:
    return {d["field"] for d in body["error"]["details"] or []}


async def poll_rows(pg: Any, sql: str, *args: Any, until: Any, timeout: float = 10.0) -> list[Any]:
    """Re-run a query until `until(rows)` holds (the worker delivers asynchronously; alone it
    takes milliseconds, but other test sessions' workers on the shared Redis may take this
    session's delivery job, leaving it to this worker's 2-second retry sweep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        rows = await pg.fetch(sql, *args)
        if until(rows) or loop.time() > deadline:
            return rows  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)


async def enqueue_job(redis_url: str, job: str) -> None:
    """Enqueues the arq job `job` (a cron job's name, e.g. keys.MEDIA_CLEANUP_JOB) now, for the
    test session's real worker to run; callers then poll for its effect."""
    arq = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        await arq.enqueue_job(job)
    finally:
        await arq.aclose()
