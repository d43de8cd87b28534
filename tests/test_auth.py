"""Issue 3: accounts and sessions, proven over real sockets against the real cluster
(two API processes, PostgreSQL, Redis): registration rules, login, refresh rotation with
reuse detection, logout, forged tokens, WebSocket tickets and login throttling."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.support.clients import PASSWORD, Device, User, make_user

OTHER_KEY = "an-entirely-different-signing-key-of-32-bytes-plus"


# --- helpers ---------------------------------------------------------------------------------
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


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def claims_for(user: User, **overrides: Any) -> dict[str, Any]:
    """The claims the server itself puts in an access token of this user's session."""
    real = jwt.decode(user.token, options={"verify_signature": False})
    now = int(time.time())
    claims = {"sub": str(user.id), "sid": real["sid"], "jti": uuid.uuid4().hex, "type": "access", "iat": now, "exp": now + 600}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


async def me_status(http: httpx.AsyncClient, token: str) -> int:
    return (await http.get("/users/me", headers=bearer(token))).status_code


async def ws_refused_status(url: str, headers: dict[str, str] | None = None) -> int:
    with pytest.raises(InvalidStatus) as refused:
        ws = await websockets.connect(url, additional_headers=headers, ping_interval=None)
        await ws.close()
    return refused.value.response.status_code


# --- registration ----------------------------------------------------------------------------
async def test_register_returns_user_and_stores_only_a_bcrypt_hash(http, pg):
    name = unique("Reg_")
    r = await register(http, name, f"{name}@Example.COM")
    assert r.status_code == 201, r.text
    user = r.json()
    assert set(user) == {"id", "username", "email", "is_active", "created_at"}
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


# --- login -----------------------------------------------------------------------------------
async def test_login_by_username_returns_tokens(http, backing):
    name = unique("Login")
    user_id = (await register(http, name)).json()["id"]
    r = await login(http, name)
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 900
    claims = jwt.decode(tokens["access_token"], backing.env["SECRET_KEY"], algorithms=["HS256"])
    assert claims["sub"] == str(user_id) and claims["type"] == "access"
    assert uuid.UUID(claims["sid"]) and claims["jti"] and claims["exp"] - claims["iat"] == 900
    me = await http.get("/users/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200 and me.json()["id"] == user_id


async def test_login_by_email_and_in_any_case(http):
    name = unique("Mixed")
    user_id = (await register(http, name, f"{name}@Example.com")).json()["id"]
    for login_as in (f"{name}@example.com", f"{name.upper()}@EXAMPLE.COM", name.lower(), name.upper()):
        r = await login(http, login_as)
        assert r.status_code == 200, (login_as, r.text)
        me = await http.get("/users/me", headers=bearer(r.json()["access_token"]))
        assert me.json()["id"] == user_id


async def test_login_accepts_form_posts(http):
    name = unique("Form")
    await register(http, name)
    by_name = await http.post("/auth/login", data={"username": name, "password": PASSWORD})
    assert by_name.status_code == 200, by_name.text
    assert by_name.json()["token_type"] == "bearer"
    # Swagger's OAuth2 password flow sends grant_type and scope beside them.
    by_email = await http.post(
        "/auth/login", data={"grant_type": "password", "username": f"{name}@example.com", "password": PASSWORD, "scope": ""}
    )
    assert by_email.status_code == 200, by_email.text
    assert await me_status(http, by_email.json()["access_token"]) == 200
    multipart = await http.post("/auth/login", files={"username": (None, name), "password": (None, PASSWORD)})
    assert multipart.status_code == 200, multipart.text
    wrong = await http.post("/auth/login", data={"username": name, "password": "wrong password"})
    assert_error(wrong, 401, "unauthorized")
    missing = await http.post("/auth/login", data={"username": name})
    assert bad_fields(missing) == {"password"}


async def test_login_unknown_user_and_wrong_password_answer_the_same(http):
    name = unique("Same")
    await register(http, name)
    wrong_password = await login(http, name, "not the password")
    unknown_user = await login(http, unique("ghost"), "not the password")
    unknown_email = await login(http, f"{unique('ghost')}@example.com", "not the password")
    errors = [assert_error(r, 401, "unauthorized") for r in (wrong_password, unknown_user, unknown_email)]
    assert errors[0] == errors[1] == errors[2]


async def test_login_validation_names_the_bad_field(http):
    assert bad_fields(await http.post("/auth/login", json={"username": "someone"})) == {"password"}
    assert bad_fields(await http.post("/auth/login", json={"password": PASSWORD})) == {"username"}
    assert bad_fields(await http.post("/auth/login", json={"username": "", "password": ""})) == {"username", "password"}
    assert bad_fields(await http.post("/auth/login", json={"username": "x", "password": "p" * 129})) == {"password"}


async def test_login_nul_character_is_a_plain_401_not_a_server_error(http):
    user = await make_user(http)
    for name in ("a\x00b", f"{user.username}\x00", f"{user.username}\x00@example.com"):
        assert_error(await login(http, name), 401, "unauthorized")
        form = await http.post("/auth/login", data={"username": name, "password": PASSWORD})
        assert_error(form, 401, "unauthorized")
    # A NUL inside a password is just another character.
    name = unique("nul")
    assert (await register(http, name, password="pass\x00word")).status_code == 201
    assert (await login(http, name, "pass\x00word")).status_code == 200
    assert_error(await login(http, name, "pass"), 401, "unauthorized")


async def test_register_nul_character_is_a_validation_error(http):
    name = unique("z")
    assert bad_fields(await register(http, name + "\x00", f"{name}@example.com")) == {"username"}
    assert bad_fields(await register(http, name, f"{name}\x00@example.com")) == {"email"}


async def test_login_long_and_non_ascii_passwords_work(http):
    passwords = [
        "p" * 128,
        "пароль-" * 18 + "ab",  # 128 characters, 236 bytes
        "🔑" * 128,  # 128 characters, 512 bytes
        "Ünïcødé pässwörd ✓",
    ]
    for password in passwords:
        assert len(password) <= 128
        name = unique("pw")
        assert (await register(http, name, password=password)).status_code == 201
        assert (await login(http, name, password)).status_code == 200
        form = await http.post("/auth/login", data={"username": name, "password": password})
        assert form.status_code == 200, form.text
        assert_error(await login(http, name, password[:-1] + "?"), 401, "unauthorized")


async def test_login_password_bytes_beyond_72_still_count(http):
    # bcrypt alone ignores everything past 72 bytes; the pre-hash must keep it significant.
    password = "a" * 72 + "tail-one"
    name = unique("long")
    assert (await register(http, name, password=password)).status_code == 201
    assert (await login(http, name, password)).status_code == 200
    assert_error(await login(http, name, "a" * 72 + "tail-two"), 401, "unauthorized")
    assert_error(await login(http, name, "a" * 72), 401, "unauthorized")


async def test_login_refused_for_inactive_account(http, pg):
    user = await make_user(http)
    await pg.execute("UPDATE users SET is_active = FALSE WHERE id = $1", user.id)
    error = assert_error(await login(http, user.username), 401, "unauthorized")
    unknown = assert_error(await login(http, unique("ghost")), 401, "unauthorized")
    assert error == unknown


# --- refresh ---------------------------------------------------------------------------------
async def test_refresh_rotates_and_spends_the_old_token(http, http2):
    user = await make_user(http)
    first = user.tokens
    r = await http.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200, r.text
    second = r.json()
    assert set(second) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    assert await me_status(http2, second["access_token"]) == 200
    # The new refresh token works (once more through the other instance).
    third = await http2.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert third.status_code == 200, third.text
    assert await me_status(http, third.json()["access_token"]) == 200
    # Same session throughout.
    sids = {jwt.decode(t["access_token"], options={"verify_signature": False})["sid"] for t in (first, second, third.json())}
    assert len(sids) == 1


async def test_refresh_reuse_revokes_the_whole_session(http, http2, pg):
    user = await make_user(http)
    other = await http.post("/auth/login", json={"username": user.username, "password": PASSWORD})
    other_tokens = other.json()
    spent = user.tokens["refresh_token"]
    rotated = (await http.post("/auth/refresh", json={"refresh_token": spent})).json()
    newest = (await http.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]})).json()
    assert await me_status(http, newest["access_token"]) == 200

    reuse = await http2.post("/auth/refresh", json={"refresh_token": spent})
    assert_error(reuse, 401, "unauthorized")
    # Every token of that session is now refused, on both instances.
    for client in (http, http2):
        assert_error(await client.get("/users/me", headers=bearer(newest["access_token"])), 401, "unauthorized")
        assert await me_status(client, user.token) == 401
    assert_error(await http.post("/auth/refresh", json={"refresh_token": newest["refresh_token"]}), 401, "unauthorized")
    sid = jwt.decode(user.token, options={"verify_signature": False})["sid"]
    assert await pg.fetchval("SELECT revoked_at IS NOT NULL FROM auth_sessions WHERE id = $1", uuid.UUID(sid))
    # The user's other session is untouched.
    assert await me_status(http2, other_tokens["access_token"]) == 200
    assert (await http.post("/auth/refresh", json={"refresh_token": other_tokens["refresh_token"]})).status_code == 200


async def test_refresh_reuse_closes_the_sessions_websockets_with_4401(http, cluster):
    user = await make_user(http)
    spent = user.tokens["refresh_token"]
    newest = (await http.post("/auth/refresh", json={"refresh_token": spent})).json()
    holder = User(id=user.id, username=user.username, email=user.email, tokens=newest)
    device = await Device.connect(cluster.apis[1].ws_url, holder, "phone")
    assert_error(await http.post("/auth/refresh", json={"refresh_token": spent}), 401, "unauthorized")
    assert await device.closed_with(timeout=10) == 4401


async def test_refresh_refuses_unknown_and_malformed_tokens(http):
    user = await make_user(http)
    assert_error(await http.post("/auth/refresh", json={"refresh_token": "not-a-token"}), 401, "unauthorized")
    forged = base64.urlsafe_b64encode(uuid.uuid4().bytes * 2).decode().rstrip("=")  # shaped like a real one
    assert_error(await http.post("/auth/refresh", json={"refresh_token": forged}), 401, "unauthorized")
    # An access token is no refresh token (too long for the field, or unknown: never 200).
    assert (await http.post("/auth/refresh", json={"refresh_token": user.token})).status_code in (401, 422)
    assert bad_fields(await http.post("/auth/refresh", json={})) == {"refresh_token"}
    assert bad_fields(await http.post("/auth/refresh", json={"refresh_token": ""})) == {"refresh_token"}
    assert bad_fields(await http.post("/auth/refresh", json={"refresh_token": 5})) == {"refresh_token"}
    # The real token still works after all that.
    assert (await http.post("/auth/refresh", json={"refresh_token": user.tokens["refresh_token"]})).status_code == 200


async def test_refresh_concurrent_use_of_one_token_issues_at_most_one_pair(http, http2):
    user = await make_user(http)
    token = user.tokens["refresh_token"]
    results = await asyncio.gather(
        *(client.post("/auth/refresh", json={"refresh_token": token}) for client in [http, http2] * 3)
    )
    assert sum(r.status_code == 200 for r in results) <= 1, [r.text for r in results]
    for r in results:
        if r.status_code != 200:
            assert_error(r, 401, "unauthorized")


# --- logout ----------------------------------------------------------------------------------
async def test_logout_refuses_the_access_token_on_the_next_request(http, http2):
    user = await make_user(http)
    other = (await login(http, user.username)).json()
    assert await me_status(http, user.token) == 200
    r = await http.post("/auth/logout", headers=user.headers)
    assert r.status_code == 204 and r.content == b""
    assert_error(await http.get("/users/me", headers=user.headers), 401, "unauthorized")
    assert_error(await http2.get("/users/me", headers=user.headers), 401, "unauthorized")
    assert_error(await http.post("/auth/refresh", json={"refresh_token": user.tokens["refresh_token"]}), 401, "unauthorized")
    assert_error(await http.post("/auth/logout", headers=user.headers), 401, "unauthorized")
    # The same user's other session keeps working.
    assert await me_status(http, other["access_token"]) == 200
    assert await me_status(http2, other["access_token"]) == 200
    assert (await http2.post("/auth/refresh", json={"refresh_token": other["refresh_token"]})).status_code == 200


async def test_logout_accepts_an_optional_refresh_token_body(http):
    user = await make_user(http)
    r = await http.post("/auth/logout", json={"refresh_token": user.tokens["refresh_token"]}, headers=user.headers)
    assert r.status_code == 204, r.text
    assert await me_status(http, user.token) == 401
    second = await make_user(http)
    assert bad_fields(await http.post("/auth/logout", json={"refresh_token": 5}, headers=second.headers)) == {"refresh_token"}


async def test_logout_requires_a_token(http):
    assert_error(await http.post("/auth/logout"), 401, "unauthorized")
    assert_error(await http.post("/auth/logout", headers=bearer("nonsense")), 401, "unauthorized")


async def test_logout_closes_that_sessions_websockets_with_4401(http, cluster):
    user = await make_user(http)
    other = User(id=user.id, username=user.username, email=user.email, tokens=(await login(http, user.username)).json())
    doomed = await Device.connect(cluster.apis[1].ws_url, user, "doomed")
    survivor = await Device.connect(cluster.apis[0].ws_url, other, "survivor")
    assert (await http.post("/auth/logout", headers=user.headers)).status_code == 204
    assert await doomed.closed_with(timeout=10) == 4401
    # Nor can that session's access token open a new socket, on either instance.
    for api in cluster.apis:
        assert await ws_refused_status(api.ws_url, user.headers) == 401
    pong = await survivor.ws.ping()
    await asyncio.wait_for(pong, 5)
    await survivor.close()


# --- forged and wrong tokens -----------------------------------------------------------------
def _forgeries(user: User, victim: User, secret: str) -> dict[str, str]:
    header, payload, signature = user.token.split(".")
    edited = json.loads(unb64(payload))
    edited["sub"] = str(victim.id)
    now = int(time.time())
    none_header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return {
        "other_key": jwt.encode(claims_for(user), OTHER_KEY, algorithm="HS256"),
        "alg_none": f"{none_header}.{b64(json.dumps(claims_for(user)).encode())}.",
        "alg_none_kept_signature": f"{none_header}.{payload}.{signature}",
        "changed_sub_kept_signature": f"{header}.{b64(json.dumps(edited).encode())}.{signature}",
        "refresh_token_as_access": user.tokens["refresh_token"],
        "type_refresh": jwt.encode(claims_for(user, type="refresh"), secret, algorithm="HS256"),
        "expired": jwt.encode(claims_for(user, iat=now - 1000, exp=now - 100), secret, algorithm="HS256"),
        "hs512_same_key": jwt.encode(claims_for(user), secret + "-padding-for-hs512-keys-length-xx", algorithm="HS512"),
        "missing_sid": jwt.encode(claims_for(user, sid=None), secret, algorithm="HS256"),
        "missing_type": jwt.encode(claims_for(user, type=None), secret, algorithm="HS256"),
        "missing_exp": jwt.encode(claims_for(user, exp=None), secret, algorithm="HS256"),
        "sub_not_a_user_id": jwt.encode(claims_for(user, sub="admin"), secret, algorithm="HS256"),
        "sub_unknown_user": jwt.encode(claims_for(user, sub="987654321"), secret, algorithm="HS256"),
        "sid_not_uuid": jwt.encode(claims_for(user, sid="not-a-uuid"), secret, algorithm="HS256"),
        "sid_not_string": jwt.encode(claims_for(user, sid=12345), secret, algorithm="HS256"),
        "sid_list": jwt.encode(claims_for(user, sid=[str(uuid.uuid4())]), secret, algorithm="HS256"),
        "sub_out_of_range": jwt.encode(claims_for(user, sub=str(10**20)), secret, algorithm="HS256"),
        "sub_negative": jwt.encode(claims_for(user, sub="-1"), secret, algorithm="HS256"),
        "garbage": "not.a.jwt",
        "truncated_signature": user.token[:-4],
    }


FORGERY_NAMES = [
    "other_key", "alg_none", "alg_none_kept_signature", "changed_sub_kept_signature", "refresh_token_as_access",
    "type_refresh", "expired", "hs512_same_key", "missing_sid", "missing_type", "missing_exp", "sub_not_a_user_id",
    "sub_unknown_user", "sid_not_uuid", "sid_not_string", "sid_list", "sub_out_of_range", "sub_negative", "garbage",
    "truncated_signature",
]  # fmt: skip


async def test_authenticate_accepts_a_token_forged_with_the_real_key(http, backing):
    # The control: the forging helper makes tokens the server accepts, so the refusals below
    # are refusals of the one thing each forgery changes.
    user = await make_user(http)
    token = jwt.encode(claims_for(user), backing.env["SECRET_KEY"], algorithm="HS256")
    r = await http.get("/users/me", headers=bearer(token))
    assert r.status_code == 200 and r.json()["id"] == user.id


@pytest.mark.parametrize("forgery", FORGERY_NAMES)
async def test_authenticate_refuses_forged_token(http, http2, backing, forgery):
    user = await make_user(http)
    victim = await make_user(http)
    tokens = _forgeries(user, victim, backing.env["SECRET_KEY"])
    assert set(tokens) == set(FORGERY_NAMES)
    token = tokens[forgery]
    for client in (http, http2):
        assert_error(await client.get("/users/me", headers=bearer(token)), 401, "unauthorized")
        assert_error(await client.get(f"/users/{victim.id}", headers=bearer(token)), 401, "unauthorized")
    assert_error(await http.post("/auth/ws-ticket", headers=bearer(token)), 401, "unauthorized")


async def test_authenticate_refuses_missing_or_malformed_header(http):
    user = await make_user(http)
    for headers in ({}, {"Authorization": user.token}, {"Authorization": f"Basic {user.token}"}, {"Authorization": "Bearer"}, {"Authorization": "Bearer x"}):
        assert_error(await http.get("/users/me", headers=headers), 401, "unauthorized")
    assert (await http.get("/users/me", headers={"Authorization": f"bearer {user.token}"})).status_code == 200


async def test_ws_handshake_refuses_forged_and_missing_credentials(http, cluster, backing):
    user = await make_user(http)
    victim = await make_user(http)
    forged = _forgeries(user, victim, backing.env["SECRET_KEY"])
    url = cluster.apis[0].ws_url
    assert await ws_refused_status(url) == 401
    for name in ("other_key", "alg_none", "changed_sub_kept_signature", "type_refresh", "expired"):
        assert await ws_refused_status(url, bearer(forged[name])) == 401, name


# --- WebSocket tickets -----------------------------------------------------------------------
async def test_ws_ticket_works_once(http, cluster, redis):
    user = await make_user(http)
    r = await http.post("/auth/ws-ticket", headers=user.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"ticket", "expires_in"} and body["expires_in"] == 30
    ttl = await redis.ttl(f"mc:ticket:{body['ticket']}")
    assert 0 < ttl <= 30
    device = await Device.connect(cluster.apis[1].ws_url, None, "browser", ticket=body["ticket"])
    assert device.connected is not None and device.connected["user_id"] == user.id
    sid = jwt.decode(user.token, options={"verify_signature": False})["sid"]
    assert device.connected["session_id"] == sid
    # Second use, on either instance: refused at the handshake.
    for api in cluster.apis:
        assert await ws_refused_status(f"{api.ws_url}?ticket={body['ticket']}") == 401
    await device.close()


async def test_ws_ticket_expired_is_refused(http, cluster, redis):
    user = await make_user(http)
    ticket = (await http.post("/auth/ws-ticket", headers=user.headers)).json()["ticket"]
    assert await redis.expire(f"mc:ticket:{ticket}", 1)
    await asyncio.sleep(1.3)
    assert await ws_refused_status(f"{cluster.apis[0].ws_url}?ticket={ticket}") == 401


async def test_ws_ticket_refused_when_unknown_or_session_ended(http, cluster):
    user = await make_user(http)
    url = cluster.apis[0].ws_url
    assert await ws_refused_status(f"{url}?ticket=made-up-ticket") == 401
    assert await ws_refused_status(f"{url}?ticket={'x' * 300}") == 401
    ticket = (await http.post("/auth/ws-ticket", headers=user.headers)).json()["ticket"]
    assert (await http.post("/auth/logout", headers=user.headers)).status_code == 204
    assert await ws_refused_status(f"{url}?ticket={ticket}") == 401


async def test_ws_ticket_requires_an_access_token(http):
    assert_error(await http.post("/auth/ws-ticket"), 401, "unauthorized")
    user = await make_user(http)
    assert_error(await http.post("/auth/ws-ticket", headers=bearer(user.tokens["refresh_token"])), 401, "unauthorized")


async def test_ws_ticket_each_issue_is_distinct(http):
    user = await make_user(http)
    tickets = {(await http.post("/auth/ws-ticket", headers=user.headers)).json()["ticket"] for _ in range(5)}
    assert len(tickets) == 5


# --- login throttling ------------------------------------------------------------------------
async def fail_logins(http: httpx.AsyncClient, username: str, count: int) -> list[httpx.Response]:
    """`count` concurrent wrong-password attempts (concurrent, so the back-off sleeps overlap)."""
    return list(await asyncio.gather(*(login(http, username, f"wrong password {i}") for i in range(count))))


def assert_rate_limited(r: httpx.Response) -> int:
    assert_error(r, 429, "rate_limited")
    retry_after = int(r.headers["Retry-After"])
    assert 1 <= retry_after <= 300, retry_after
    return retry_after


async def test_login_throttle_answers_429_with_retry_after(http):
    user = await make_user(http)
    failures = await fail_logins(http, user.username, 10)
    assert [r.status_code for r in failures] == [401] * 10
    # Now even the right password is refused until the window passes.
    assert_rate_limited(await login(http, user.username))
    assert_rate_limited(await http.post("/auth/login", data={"username": user.username, "password": PASSWORD}))
    # The sessions already open are not affected.
    assert await me_status(http, user.token) == 200


async def test_login_throttle_holds_against_a_concurrent_burst(http):
    user = await make_user(http)
    results = await fail_logins(http, user.username, 25)
    statuses = [r.status_code for r in results]
    assert statuses.count(401) <= 10, statuses
    assert statuses.count(401) + statuses.count(429) == 25, statuses
    for r in results:
        if r.status_code == 429:
            assert_rate_limited(r)
    assert_rate_limited(await login(http, user.username))


async def test_login_throttle_counts_name_and_email_as_one_account(http):
    user = await make_user(http)
    await asyncio.gather(fail_logins(http, user.username, 5), fail_logins(http, user.email.upper(), 5))
    assert_rate_limited(await login(http, user.email))
    assert_rate_limited(await login(http, user.username.upper()))


async def test_login_throttle_spares_other_accounts(http):
    target = await make_user(http)
    bystander = await make_user(http)
    await fail_logins(http, target.username, 11)
    assert_rate_limited(await login(http, target.username))
    # Same client address, different account: still logs in.
    assert (await login(http, bystander.username)).status_code == 200


async def test_login_throttle_applies_to_unknown_names_alike(http):
    ghost = unique("ghost")
    statuses = [r.status_code for r in await fail_logins(http, ghost, 10)]
    assert statuses == [401] * 10
    assert_rate_limited(await login(http, ghost))


async def test_login_success_resets_the_failure_count(http):
    user = await make_user(http)
    assert [r.status_code for r in await fail_logins(http, user.username, 9)] == [401] * 9
    assert (await login(http, user.username)).status_code == 200
    assert [r.status_code for r in await fail_logins(http, user.username, 9)] == [401] * 9
    assert (await login(http, user.username)).status_code == 200


# --- the error envelope on framework errors of these routes ----------------------------------
async def test_auth_routes_framework_errors_use_the_envelope(http):
    assert_error(await http.get("/auth/login"), 405, "method_not_allowed")
    assert_error(await http.post("/auth/no-such-route", json={}), 404, "not_found")


async def test_register_unparseable_body_names_the_body_in_details(http):
    text = await http.post("/auth/register", content=b"username=a", headers={"Content-Type": "text/plain"})
    assert bad_fields(text) == {"body"}
    broken = await http.post("/auth/register", content=b'{"username": ', headers={"Content-Type": "application/json"})
    assert bad_fields(broken) == {"body"}
