"""Contract v1.1: `PATCH /messages/{id}`, `DELETE /messages/{id}` and `/users/search` are the
canonical paths; the v1 paths `/messages/{id}/edit`, `/messages/{id}/delete` and
`/chats/search` stay as aliases. Each pair is driven side by side against the live cluster
and must answer the same: 200 bodies, 404 to outsiders, 409 on editing a deleted message,
an idempotent delete, the same error envelope."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.checks import assert_envelope
from tests.support.clients import User, make_user, pair, send

MISSING = 999_999_999
EDIT = {"canonical": "/messages/{id}", "alias": "/messages/{id}/edit"}
DELETE = {"canonical": "/messages/{id}", "alias": "/messages/{id}/delete"}


async def message_with_outsider(http, content: str) -> tuple[User, User, User, dict[str, Any]]:
    """(alice, bob, eve, message): alice's message to bob in their direct chat; eve is in no chat."""
    alice, bob, chat = await pair(http)
    eve = await make_user(http)
    return alice, bob, eve, await send(http, alice, chat["id"], content)


@pytest.mark.parametrize("form", ["canonical", "alias"])
async def test_edit_paths_edit_answer_404_to_outsiders_and_409_once_deleted(http, form):
    alice, bob, eve, m = await message_with_outsider(http, "tpyo")
    path = EDIT[form].format(id=m["id"])

    r = await http.patch(path, json={"content": "typo"}, headers=alice.headers)
    assert r.status_code == 200, r.text
    edited = r.json()
    assert edited["id"] == m["id"] and edited["content"] == "typo" and edited["edited_at"] is not None
    assert edited["seq"] == m["seq"] and edited["is_deleted"] is False

    assert_envelope(await http.patch(path, json={"content": "x"}, headers=eve.headers), 404, "not_found")
    assert_envelope(await http.patch(path, json={"content": "x"}, headers=bob.headers), 403, "forbidden")
    missing = EDIT[form].format(id=MISSING)
    assert_envelope(await http.patch(missing, json={"content": "x"}, headers=alice.headers), 404, "not_found")
    assert_envelope(await http.patch(path, json={"content": ""}, headers=alice.headers), 422, "validation_error")

    assert (await http.delete(DELETE[form].format(id=m["id"]), headers=alice.headers)).status_code == 200
    assert_envelope(await http.patch(path, json={"content": "back?"}, headers=alice.headers), 409, "conflict")


@pytest.mark.parametrize("form", ["canonical", "alias"])
async def test_delete_paths_delete_idempotently_and_answer_404_to_outsiders(http, form):
    alice, bob, eve, m = await message_with_outsider(http, "regrettable")
    path = DELETE[form].format(id=m["id"])

    assert_envelope(await http.delete(path, headers=eve.headers), 404, "not_found")
    assert_envelope(await http.delete(path, headers=bob.headers), 403, "forbidden")
    assert_envelope(await http.delete(DELETE[form].format(id=MISSING), headers=alice.headers), 404, "not_found")

    r = await http.delete(path, headers=alice.headers)
    assert r.status_code == 200, r.text
    deleted = r.json()
    assert deleted["id"] == m["id"] and deleted["is_deleted"] is True and deleted["content"] == ""
    again = await http.delete(path, headers=alice.headers)
    assert again.status_code == 200 and again.json() == deleted


async def test_canonical_and_alias_message_paths_answer_the_same_bodies(http):
    alice, _, chat = await pair(http)
    m = await send(http, alice, chat["id"], "one")
    by_alias = (await http.patch(f"/messages/{m['id']}/edit", json={"content": "two"}, headers=alice.headers)).json()
    by_canonical = (await http.patch(f"/messages/{m['id']}", json={"content": "two"}, headers=alice.headers)).json()
    assert {k: v for k, v in by_alias.items() if k != "edited_at"} == {
        k: v for k, v in by_canonical.items() if k != "edited_at"
    }
    deleted = (await http.delete(f"/messages/{m['id']}", headers=alice.headers)).json()
    assert (await http.delete(f"/messages/{m['id']}/delete", headers=alice.headers)).json() == deleted


async def test_users_search_and_its_alias_answer_the_same_pages(http):
    caller = await make_user(http)
    for name in ("zed_one", "zed_two", "zed_three"):
        await make_user(http, username=f"{name}_{caller.username[-6:]}")
    for params in ({"q": "ZED_"}, {"q": "zed_", "limit": 2}, {"q": "nobody_has_this"}):
        canonical = await http.get("/users/search", params=params, headers=caller.headers)
        alias = await http.get("/chats/search", params=params, headers=caller.headers)
        assert canonical.status_code == alias.status_code == 200, (canonical.text, alias.text)
        assert canonical.json() == alias.json()
    first = (await http.get("/users/search", params={"q": "zed_", "limit": 2}, headers=caller.headers)).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = {"q": "zed_", "limit": 2, "cursor": first["next_cursor"]}
    assert (await http.get("/users/search", params=rest, headers=caller.headers)).json() == (
        await http.get("/chats/search", params=rest, headers=caller.headers)
    ).json()
    for path in ("/users/search", "/chats/search"):
        assert_envelope(await http.get(path, headers=caller.headers), 422, "validation_error")
        assert_envelope(await http.get(path, params={"q": "zed"}), 401, "unauthorized")
