"""Profiles and username search over the real cluster. A public profile is
{id, username, online, last_seen_at} and never shows an email; search is by prefix,
case-insensitive, paged, and leaves the caller out."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import make_stack
from tests.support.clients import Device, User, direct_chat, make_user

PUBLIC_KEYS = {"id", "username", "display_name", "avatar_url", "online", "last_seen_at", "deleted", "is_bot"}


def as_stranger(user: User) -> dict[str, Any]:
    """user's public profile as someone sharing no chat with it sees it."""
    return {"id": user.id, "username": user.username, "display_name": user.username, "avatar_url": None,
            "online": None, "last_seen_at": None, "deleted": False, "is_bot": False}  # fmt: skip


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code and body["error"]["message"], body
    return body["error"]  # type: ignore[no-any-return]


def bad_fields(r: httpx.Response) -> set[str]:
    details = assert_error(r, 422, "validation_error")["details"]
    assert isinstance(details, list) and details
    assert all(set(item) == {"field", "message"} for item in details), details
    return {item["field"] for item in details}


def assert_no_email(r: httpx.Response, *users: User) -> None:
    assert "email" not in r.text and "@" not in r.text, r.text
    for user in users:
        assert user.email.lower() not in r.text.lower()


async def search(http: httpx.AsyncClient, caller: User, **params: Any) -> httpx.Response:
    return await http.get("/chats/search", params=params, headers=caller.headers)


async def search_all(http: httpx.AsyncClient, caller: User, q: str, limit: int) -> list[list[dict[str, Any]]]:
    """Every page of a search, following next_cursor to the end."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"q": q, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        r = await search(http, caller, **params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "next_cursor"}
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "next_cursor never ends"


def tag() -> str:
    return uuid.uuid4().hex[:6]


# --- /users/me -------------------------------------------------------------------------------
async def test_users_me_returns_the_callers_account(http, http2):
    user = await make_user(http)
    for client in (http, http2):
        r = await client.get("/users/me", headers=user.headers)
        assert r.status_code == 200, r.text
        me = r.json()
        assert set(me) == {"id", "username", "email", "display_name", "avatar", "is_active", "is_admin", "is_bot", "created_at"}
        assert me["id"] == user.id and me["username"] == user.username and me["email"] == user.email
        assert me["is_active"] is True and me["created_at"].endswith("Z")
        assert "password" not in r.text


async def test_users_me_requires_a_token(http):
    assert_error(await http.get("/users/me"), 401, "unauthorized")
    assert_error(await http.get("/users/me", headers={"Authorization": "Bearer nope"}), 401, "unauthorized")


# --- /users/{id} -----------------------------------------------------------------------------
async def test_users_profile_is_public_and_never_shows_the_email(http, http2):
    viewer = await make_user(http)
    target = await make_user(http)
    for client in (http, http2):
        r = await client.get(f"/users/{target.id}", headers=viewer.headers)
        assert r.status_code == 200, r.text
        profile = r.json()
        assert set(profile) == PUBLIC_KEYS
        # A stranger: no chat in common, so no presence either.
        assert profile == as_stranger(target)
        assert_no_email(r, target, viewer)
    own = await http.get(f"/users/{viewer.id}", headers=viewer.headers)
    assert own.status_code == 200 and set(own.json()) == PUBLIC_KEYS
    assert_no_email(own, viewer)


@pytest.mark.parametrize("user_id", ["0", "987654321", str(2**63 - 1), str(2**63), str(10**30), "-1", "abc", "1.5"])
async def test_users_profile_unknown_id_is_404(http, user_id):
    viewer = await make_user(http)
    assert_error(await http.get(f"/users/{user_id}", headers=viewer.headers), 404, "not_found")


async def test_users_profile_inactive_user_is_404(http, pg):
    viewer = await make_user(http)
    gone = await make_user(http)
    await pg.execute("UPDATE users SET is_active = FALSE WHERE id = $1", gone.id)
    assert_error(await http.get(f"/users/{gone.id}", headers=viewer.headers), 404, "not_found")


async def test_users_profile_requires_a_token(http):
    user = await make_user(http)
    assert_error(await http.get(f"/users/{user.id}"), 401, "unauthorized")


async def test_users_profile_shows_presence_and_last_seen(http, http2, cluster):
    viewer = await make_user(http)
    target = await make_user(http)
    await direct_chat(http, viewer, target)
    device = await Device.connect(cluster.apis[1].ws_url, target, "phone")
    for client in (http, http2):
        r = await client.get(f"/users/{target.id}", headers=viewer.headers)
        assert r.json()["online"] is True, r.text
    await device.close()
    profile: dict[str, Any] = {}
    for _ in range(100):  # the server notices the close asynchronously
        profile = (await http.get(f"/users/{target.id}", headers=viewer.headers)).json()
        if not profile["online"] and profile["last_seen_at"]:
            break
        await asyncio.sleep(0.05)
    assert profile["online"] is False and profile["last_seen_at"].endswith("Z"), profile


# --- /chats/search ---------------------------------------------------------------------------
async def test_users_search_by_prefix_case_insensitive_excluding_the_caller(http, http2):
    t = tag()
    caller = await make_user(http, f"Ali{t}_caller")
    matching = [await make_user(http, name) for name in (f"ali{t}_one", f"ALI{t}.two", f"aLi{t}-three")]
    others = [await make_user(http, name) for name in (f"bob{t}", f"xali{t}")]
    for client in (http, http2):
        for q in (f"ali{t}", f"ALI{t}", f"AlI{t}"):
            r = await search(client, caller, q=q)
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["next_cursor"] is None
            assert sorted(item["id"] for item in body["items"]) == sorted(u.id for u in matching)
            for item in body["items"]:
                assert set(item) == PUBLIC_KEYS
            assert_no_email(r, caller, *matching, *others)
    assert [i["id"] for i in (await search(http, caller, q=f"ALI{t}.T")).json()["items"]] == [matching[1].id]
    assert (await search(http, caller, q=f"li{t}")).json()["items"] == []  # a prefix, not a substring


async def test_users_search_finds_display_names_in_any_script_under_any_locale(stacks, backing):
    """On a database made under the C locale (what the embedded server gets on a machine with
    no LANG), PostgreSQL's lower() folds ASCII only: the search must fold names itself."""
    stack = await make_stack(stacks, backing, locale="C")
    api = stack.add_api()
    async with httpx.AsyncClient(base_url=api.base_url, timeout=15.0) as client:
        caller = await make_user(client)
        names = {"Анна Каренина": None, "Ἀριστοτέλης": None, "STRASSE Weiß": None, "李小龍": None}
        for name in names:
            user = await make_user(client)
            r = await client.patch("/users/me", json={"display_name": name}, headers=user.headers)
            assert r.status_code == 200, r.text
            names[name] = user.id
        found = {
            q: [item["id"] for item in (await search(client, caller, q=q)).json()["items"]]
            for q in ("Анна", "анна", "АННА К", "ἀριστ", "straße", "strasse w", "李小")
        }
        assert found == {
            "Анна": [names["Анна Каренина"]], "анна": [names["Анна Каренина"]], "АННА К": [names["Анна Каренина"]],
            "ἀριστ": [names["Ἀριστοτέλης"]], "straße": [names["STRASSE Weiß"]], "strasse w": [names["STRASSE Weiß"]],
            "李小": [names["李小龍"]],
        }  # fmt: skip
        assert (await search(client, caller, q="Каренина")).json()["items"] == []  # a prefix, not a substring


async def test_users_search_treats_like_wildcards_literally(http):
    t = tag()
    caller = await make_user(http, f"caller{t}")
    under = await make_user(http, f"w{t}_x")
    await make_user(http, f"w{t}ax")
    r = await search(http, caller, q=f"w{t}_")
    assert [i["id"] for i in r.json()["items"]] == [under.id]
    assert (await search(http, caller, q="%")).json()["items"] == []
    assert (await search(http, caller, q=f"w{t}%")).json()["items"] == []
    assert (await search(http, caller, q="\\")).json()["items"] == []


async def test_users_search_pages_with_next_cursor(http, http2):
    t = tag()
    caller = await make_user(http, f"pg{t}_caller")
    users = [await make_user(http, f"pg{t}_{i:02d}") for i in range(7)]
    await make_user(http, f"other{t}")
    pages = await search_all(http, caller, f"PG{t}", 3)
    assert [len(p) for p in pages] == [3, 3, 1]
    ids = [item["id"] for page in pages for item in page]
    assert ids == [u.id for u in users]  # ordered by username, each once
    # A cursor from one instance works on the other.
    first = (await search(http, caller, q=f"pg{t}", limit=2)).json()
    second = (await search(http2, caller, q=f"pg{t}", limit=2, cursor=first["next_cursor"])).json()
    assert [i["id"] for i in first["items"] + second["items"]] == [u.id for u in users[:4]]
    # An exact page: no phantom cursor when nothing is left.
    exact = await search_all(http, caller, f"pg{t}", 7)
    assert [len(p) for p in exact] == [7]


async def test_users_search_default_and_maximum_limits(http):
    t = tag()
    caller = await make_user(http, f"lim{t}_caller")
    r = await search(http, caller, q=f"lim{t}")
    assert r.status_code == 200 and r.json() == {"items": [], "next_cursor": None}
    assert (await search(http, caller, q=f"lim{t}", limit=200)).status_code == 200


async def test_users_search_leaves_out_inactive_users(http, pg):
    t = tag()
    caller = await make_user(http, f"in{t}_caller")
    active = await make_user(http, f"in{t}_active")
    gone = await make_user(http, f"in{t}_gone")
    await pg.execute("UPDATE users SET is_active = FALSE WHERE id = $1", gone.id)
    assert [i["id"] for i in (await search(http, caller, q=f"in{t}")).json()["items"]] == [active.id]


async def test_users_search_validation_names_the_bad_field(http):
    caller = await make_user(http)
    assert bad_fields(await search(http, caller)) == {"q"}
    assert bad_fields(await search(http, caller, q="")) == {"q"}
    assert bad_fields(await search(http, caller, q="x" * 65)) == {"q"}
    for limit in (0, 201, -1, "ten"):
        assert bad_fields(await search(http, caller, q="a", limit=limit)) == {"limit"}
    assert bad_fields(await search(http, caller, q="a", cursor="%%%not-base64")) == {"cursor"}
    assert bad_fields(await search(http, caller, q="a", cursor="x" * 600)) == {"cursor"}


@pytest.mark.parametrize(
    "payload",
    [{"x": 1}, {"u": 5, "id": "seven"}, {"u": "a"}, {"id": 3}, [1, 2], "text", {"u": "a", "id": 2**70}],
    ids=["wrong_keys", "wrong_types", "missing_id", "missing_u", "list", "string", "id_out_of_range"],
)
async def test_users_search_forged_cursor_is_422_not_500(http, payload):
    caller = await make_user(http)
    cursor = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    assert bad_fields(await search(http, caller, q="a", cursor=cursor)) == {"cursor"}


async def test_users_search_requires_a_token(http):
    assert_error(await http.get("/chats/search", params={"q": "a"}), 401, "unauthorized")


async def test_users_search_nul_character_is_not_a_server_error(http):
    caller = await make_user(http)
    r = await search(http, caller, q="a\x00b")
    assert r.status_code in (200, 422), r.text
    if r.status_code == 200:
        assert r.json() == {"items": [], "next_cursor": None}
    cursor = base64.urlsafe_b64encode(json.dumps({"u": "a\x00", "id": 1}).encode()).decode().rstrip("=")
    assert bad_fields(await search(http, caller, q="a", cursor=cursor)) == {"cursor"}


async def test_users_search_default_page_is_50(http, pg):
    t = tag()
    caller = await make_user(http, f"many{t}_caller")
    await pg.executemany(
        "INSERT INTO users (username, email, password_hash, is_active, created_at, inbox_seq)"
        " VALUES ($1, $2, 'x', TRUE, now(), 0)",
        [(f"many{t}_{i:03d}", f"many{t}_{i:03d}@example.com") for i in range(55)],
    )
    first = (await search(http, caller, q=f"many{t}")).json()
    assert len(first["items"]) == 50 and first["next_cursor"]
    second = (await search(http, caller, q=f"many{t}", cursor=first["next_cursor"])).json()
    assert len(second["items"]) == 5 and second["next_cursor"] is None
    names = [i["username"] for i in first["items"] + second["items"]]
    assert names == [f"many{t}_{i:03d}" for i in range(55)]
    assert "@" not in json.dumps(first) + json.dumps(second)


# --- presence is for contacts only --------------------------------------
async def test_users_profile_hides_presence_from_users_without_a_shared_chat(http, http2, cluster):
    target = await make_user(http)
    contact = await make_user(http)
    stranger = await make_user(http)
    await direct_chat(http, contact, target)
    device = await Device.connect(cluster.apis[1].ws_url, target, "phone")
    await device.close()
    laptop = await Device.connect(cluster.apis[0].ws_url, target, "laptop")  # online again, last_seen set
    for client in (http, http2):
        seen = (await client.get(f"/users/{target.id}", headers=contact.headers)).json()
        assert seen["online"] is True, seen
        hidden = (await client.get(f"/users/{target.id}", headers=stranger.headers)).json()
        assert hidden == as_stranger(target)
        # Search shows the same UserPublic: presence for the contact only.
        by_contact = (await search(client, contact, q=target.username)).json()["items"]
        by_stranger = (await search(client, stranger, q=target.username)).json()["items"]
        assert [u["online"] for u in by_contact] == [True], by_contact
        assert [(u["online"], u["last_seen_at"]) for u in by_stranger] == [(None, None)], by_stranger
    # The user always sees their own presence.
    own = (await http.get(f"/users/{target.id}", headers=target.headers)).json()
    assert own["online"] is True
    await laptop.close()


async def test_users_profile_presence_follows_group_membership(http, cluster):
    target = await make_user(http)
    owner = await make_user(http)
    r = await http.post("/chats", json={"type": "group", "title": "g", "member_ids": [target.id]}, headers=owner.headers)
    assert r.status_code == 201, r.text
    chat_id = r.json()["id"]
    phone = await Device.connect(cluster.api.ws_url, target, "phone")
    assert (await http.get(f"/users/{target.id}", headers=owner.headers)).json()["online"] is True
    r = await http.delete(f"/chats/{chat_id}/members/{target.id}", headers=target.headers)
    assert r.status_code == 204, r.text
    after = (await http.get(f"/users/{target.id}", headers=owner.headers)).json()
    assert after["online"] is None and after["last_seen_at"] is None, after
    await phone.close()
