"""Start-up refuses a missing secret; /health and /ready tell the truth about the
backing services; framework errors wear the contract's envelope."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import pytest

from tests.conftest import make_stack
from tests.support.processes import ROOT
from tests.support.proxy import proxy_for


def test_cli_outside_dev_refuses_to_start_without_secret_key(backing):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL")}
    env.update(DATABASE_URL=backing.database_url, REDIS_URL=backing.redis_url)
    for command in (["api", "--port", "1"], ["worker"]):
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", *command], env=env, cwd=ROOT, capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 2
        assert "SECRET_KEY" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.timeout(90)
async def test_ready_answers_503_while_postgres_is_unreachable_then_recovers(backing, stacks):
    stack = await make_stack(stacks, backing)
    proxy, proxied_url = proxy_for(stack.database_url)
    stack.env["DATABASE_URL"] = proxied_url
    try:
        api = await asyncio.to_thread(stack.add_api)
        async with httpx.AsyncClient(base_url=api.base_url, timeout=5) as client:
            assert (await client.get("/ready")).status_code == 200
            await asyncio.to_thread(proxy.cut)
            r = await client.get("/ready")
            assert r.status_code == 503
            assert r.json()["error"]["code"] == "unavailable" and r.json()["error"]["details"]["down"] == ["postgres"]
            assert (await client.get("/health")).status_code == 200  # the process itself is fine
            await asyncio.to_thread(proxy.restore)
            for _ in range(50):
                if (await client.get("/ready")).status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert (await client.get("/ready")).status_code == 200
    finally:
        proxy.close()


@pytest.mark.timeout(90)
async def test_ready_answers_503_while_redis_is_down(backing, stacks):
    stack = await make_stack(stacks, backing)
    api = await asyncio.to_thread(stack.add_api)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=5) as client:
        stack.redis.kill()
        r = await client.get("/ready")
        assert r.status_code == 503 and r.json()["error"]["details"]["down"] == ["redis"]
        await asyncio.to_thread(stack.redis.start)
        for _ in range(50):
            if (await client.get("/ready")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert (await client.get("/ready")).status_code == 200


async def test_framework_errors_wear_the_envelope(http):
    # (413 for a body over 1 MiB: tests/test_auth_register.py::test_register_body_over_one_mib_is_413)
    cases = [
        (await http.get("/no/such/route"), 404, "not_found"),
        (await http.put("/health"), 405, "method_not_allowed"),
        (await http.post("/auth/login", content=b"{broken", headers={"Content-Type": "application/json"}), 422, "validation_error"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
        assert set(response.json()["error"]) == {"code", "message", "details"}


async def test_an_idle_keep_alive_connection_outlives_hypercorns_default(cluster):
    # Hypercorn closes idle connections after 5 s by default; a pooled client's next request
    # on one it closed meanwhile fails with no response. Ours stay open 75 s.
    reader, writer = await asyncio.open_connection("127.0.0.1", cluster.api.port)
    request = b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n"
    try:
        for _ in range(2):
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert head.startswith(b"HTTP/1.1 200"), head
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
            await reader.readexactly(length)
            await asyncio.sleep(6)  # past the default, on the same connection
        assert not reader.at_eof()
    finally:
        writer.close()
