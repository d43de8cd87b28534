"""Registration over real sockets against the real cluster (two API processes, PostgreSQL,
Redis): the field rules, duplicates and races, malformed bodies, and the error envelope on
framework errors of the /auth routes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from tests.support.auth import login, register, unique
from tests.support.checks import assert_error, bad_fields
from tests.support.clients import PASSWORD


# --- registration ----------------------------------------------------------------------------
async def test_register_returns_user_and_stores_only_a_bcrypt_hash(http, pg):
    name = unique("Reg_")
    r = await register(http, name, f"{name}@Example.COM")
    assert r.status_code == 201, r.text
    user = r.json()
    assert set(user) == {"id", "username", "email", "display_name", "avatar", "is_active", "is_admin", "is_bot", "created_at"}
    assert user["display_name"] == name and user["avatar"] is None and user["is_admin"] is False
    assert isinstance(user["id"], int) and user["username"] == name and user["is_active"] is True
    assert user["email"].lower() == f"{name}@example.com".lower()
    assert user["created_at"].endswith("Z") and "T" in user["created_at"]
    assert PASSWORD not in r.text
    stored = await pg.fetchval("SELECT password_hash FROM users WHERE id = $1", user["id"])
    assert stored.startswith("$2") and PASSWORD not in stored


LONG = "x" * 33
BAD_REGISTRATIONS = {
    "username_too_short": ({"username": "ab"}, "username"),
    "username_too_long": ({"username": LONG}, "username"),
    "username_space": ({"username": "al ice"}, "username"),
    "username_symbol": ({"username": "alice!"}, "username"),
    "username_at_sign": ({"username": "al@ce"}, "username"),
    "username_non_ascii": ({"username": "élise"}, "username"),
    "username_trailing_newline": ({"username": "alice\n"}, "username"),
    "username_not_string": ({"username": 12345}, "username"),
    "username_missing": ({"username": None}, "username"),
    "email_no_at": ({"email": "not-an-email"}, "email"),
    "email_no_domain": ({"email": "someone@"}, "email"),
    "email_no_local": ({"email": "@example.com"}, "email"),
    "email_empty": ({"email": ""}, "email"),
    "email_missing": ({"email": None}, "email"),
    "password_too_short": ({"password": "1234567"}, "password"),
    "password_too_long": ({"password": "p" * 129}, "password"),
    "password_not_string": ({"password": 12345678}, "password"),
    "password_missing": ({"password": None}, "password"),
    "unknown_field": ({"is_admin": True}, "is_admin"),
}


@pytest.mark.parametrize("case", list(BAD_REGISTRATIONS), ids=list(BAD_REGISTRATIONS))
async def test_register_names_the_bad_field(http, pg, case):
    change, field = BAD_REGISTRATIONS[case]
    name = unique("v")
    body: dict[str, Any] = {"username": name, "email": f"{name}@example.com", "password": PASSWORD, **change}
    body = {k: v for k, v in body.items() if v is not None}
    r = await http.post("/auth/register", json=body)
    assert bad_fields(r) == {field}
    assert await pg.fetchval("SELECT count(*) FROM users") == 0


async def test_register_names_every_bad_field_at_once(http):
    secret = "short"
    r = await http.post("/auth/register", json={"username": "a b", "email": "nope", "password": secret})
    assert bad_fields(r) == {"username", "email", "password"}
    assert secret not in json.dumps(r.json()["error"]["details"])  # never echoes the password


async def test_register_accepts_boundary_lengths(http):
    for username, password in (("abc", "p" * 8), ("a" * 32, "p" * 128), ("A.b-c_9", "12345678")):
        r = await register(http, username, f"{unique('e')}@example.com", password)
        assert r.status_code == 201, (username, r.text)
        assert (await login(http, username, password)).status_code == 200


async def test_register_rejects_malformed_bodies(http):
    text = await http.post("/auth/register", content=b"username=a", headers={"Content-Type": "text/plain"})
    assert_error(text, 422, "validation_error")
    broken = await http.post("/auth/register", content=b'{"username": ', headers={"Content-Type": "application/json"})
    assert_error(broken, 422, "validation_error")
    array = await http.post("/auth/register", json=["alice", "a@example.com", PASSWORD])
    assert_error(array, 422, "validation_error")
    empty = await http.post("/auth/register", json={})
    assert bad_fields(empty) == {"username", "email", "password"}
    name = unique("cs")
    charset = await http.post(
        "/auth/register",
        content=json.dumps({"username": name, "email": f"{name}@example.com", "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert charset.status_code == 201, charset.text


async def test_register_body_over_one_mib_is_413(cluster):
    # Over a raw socket: announce 2 MB, send one byte, and read the answer; with a client that
    # keeps writing the whole body, the server's early close can reset the connection first.
    reader, writer = await asyncio.open_connection("127.0.0.1", cluster.api.port)
    try:
        writer.write(
            b"POST /auth/register HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2000000\r\n\r\n{"
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
        body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 10)
    finally:
        writer.close()
    response = httpx.Response(int(lines[0].split()[1]), headers=headers, content=body)
    assert_error(response, 413, "payload_too_large")


async def test_register_duplicate_username_is_409_case_insensitively(http, pg):
    name = unique("Alice")
    assert (await register(http, name)).status_code == 201
    for variant in (name, name.lower(), name.upper()):
        r = await register(http, variant, f"{unique('other')}@example.com")
        assert_error(r, 409, "conflict")
    assert await pg.fetchval("SELECT count(*) FROM users") == 1


async def test_register_duplicate_email_is_409_case_insensitively(http, pg):
    email = f"{unique('Mail')}@Example.com"
    assert (await register(http, unique("first"), email)).status_code == 201
    for variant in (email, email.lower(), email.upper()):
        r = await register(http, unique("second"), variant)
        assert_error(r, 409, "conflict")
    assert await pg.fetchval("SELECT count(*) FROM users") == 1


async def test_register_concurrent_same_name_exactly_one_wins(http, http2, pg):
    base = unique("Alice")
    variants = [base, base.lower(), base.upper(), base.swapcase()] * 2
    clients = [http, http2] * 4
    results = await asyncio.gather(
        *(register(client, name, f"{unique('c')}@example.com") for client, name in zip(clients, variants))
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201] + [409] * 7, [r.text for r in results]
    for r in results:
        if r.status_code == 409:
            assert_error(r, 409, "conflict")
    assert await pg.fetchval("SELECT count(*) FROM users WHERE lower(username) = lower($1)", base) == 1


async def test_register_concurrent_same_email_exactly_one_wins(http, http2, pg):
    email = f"{unique('Shared')}@example.com"
    emails = [email, email.lower(), email.upper(), email] * 2
    clients = [http, http2] * 4
    results = await asyncio.gather(*(register(c, unique("n"), e) for c, e in zip(clients, emails)))
    assert sorted(r.status_code for r in results) == [201] + [409] * 7, [r.text for r in results]
    assert await pg.fetchval("SELECT count(*) FROM users") == 1


async def test_register_nul_character_is_a_validation_error(http):
    name = unique("z")
    assert bad_fields(await register(http, name + "\x00", f"{name}@example.com")) == {"username"}
    assert bad_fields(await register(http, name, f"{name}\x00@example.com")) == {"email"}


# --- the error envelope on framework errors of these routes ----------------------------------
async def test_auth_routes_framework_errors_use_the_envelope(http):
    assert_error(await http.get("/auth/login"), 405, "method_not_allowed")
    assert_error(await http.post("/auth/no-such-route", json={}), 404, "not_found")


async def test_register_unparseable_body_names_the_body_in_details(http):
    text = await http.post("/auth/register", content=b"username=a", headers={"Content-Type": "text/plain"})
    assert bad_fields(text) == {"body"}
    broken = await http.post("/auth/register", content=b'{"username": ', headers={"Content-Type": "application/json"})
    assert bad_fields(broken) == {"body"}
