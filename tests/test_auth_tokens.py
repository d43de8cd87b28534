"""Tokens over real sockets against the real cluster: refresh rotation with reuse detection
(which revokes the session and closes its sockets), and every forged or wrong access token
refused."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from typing import Any

import jwt
import pytest

from tests.support.auth import bearer, me_status, ws_refused_status
from tests.support.checks import assert_error, bad_fields
from tests.support.clients import PASSWORD, Device, User, make_user

OTHER_KEY = "an-entirely-different-signing-key-of-32-bytes-plus"


# --- helpers ---------------------------------------------------------------------------------
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
