"""Login over real sockets against the real cluster: by name or email, JSON or form, the
password rules, inactive accounts, and login throttling (429 with Retry-After)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import jwt

from tests.support.auth import bearer, login, me_status, register, unique
from tests.support.checks import assert_error, bad_fields
from tests.support.clients import PASSWORD, make_user


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
    """Deactivated (contract v1.1): 403 for the right password; a wrong one is the same 401 as
    for an unknown user, so only whoever knows the password learns the account's state."""
    user = await make_user(http)
    await pg.execute("UPDATE users SET is_active = FALSE WHERE id = $1", user.id)
    assert_error(await login(http, user.username), 403, "forbidden")
    error = assert_error(await login(http, user.username, "wrong password"), 401, "unauthorized")
    unknown = assert_error(await login(http, unique("ghost")), 401, "unauthorized")
    assert error == unknown


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
