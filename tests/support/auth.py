"""Requests of the /auth routes, for the tests of accounts, tokens and sessions."""

from __future__ import annotations

import uuid

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.support.clients import PASSWORD


def unique(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


async def register(
    http: httpx.AsyncClient, username: str, email: str | None = None, password: str = PASSWORD
) -> httpx.Response:
    return await http.post(
        "/auth/register", json={"username": username, "email": email or f"{username}@example.com", "password": password}
    )


async def login(http: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    return await http.post("/auth/login", json={"username": username, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def me_status(http: httpx.AsyncClient, token: str) -> int:
    return (await http.get("/users/me", headers=bearer(token))).status_code


async def ws_refused_status(url: str, headers: dict[str, str] | None = None) -> int:
    with pytest.raises(InvalidStatus) as refused:
        ws = await websockets.connect(url, additional_headers=headers, ping_interval=None)
        await ws.close()
    return refused.value.response.status_code
