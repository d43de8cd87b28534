"""Profiles over the real cluster: PATCH /users/me sets a display name (any script,
trimmed, 1 to 64 characters, null back to the username) and an avatar (an image the caller
uploaded); contacts hear `user_updated`; the avatar is readable by every authenticated user and
kept by the cleanup job; search matches username or display name prefixes, case-insensitive."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import httpx
from PIL import Image

from app import keys
from tests.support.checks import assert_error, bad_fields, enqueue_job, group_chat, poll_rows
from tests.support.clients import Device, User, make_user, pair


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


async def upload(http: httpx.AsyncClient, user: User, content: bytes) -> dict[str, Any]:
    r = await http.post(
        "/attachments", params={"name": "me.png"}, content=content,
        headers={**user.headers, "Content-Type": "application/octet-stream"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def patch_me(http: httpx.AsyncClient, user: User, body: Any) -> httpx.Response:
    return await http.patch("/users/me", json=body, headers=user.headers)


async def test_profile_display_name_any_script_trimmed_and_null_restores_the_username(http, http2):
    user = await make_user(http)
    r = await patch_me(http, user, {"display_name": "  Анна 李 🌸  "})
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "Анна 李 🌸" and r.json()["username"] == user.username
    viewer = await make_user(http)
    seen = (await http2.get(f"/users/{user.id}", headers=viewer.headers)).json()
    assert seen["display_name"] == "Анна 李 🌸" and seen["deleted"] is False
    assert (await patch_me(http, user, {"display_name": "x" * 64})).json()["display_name"] == "x" * 64
    r = await patch_me(http, user, {"display_name": None})
    assert r.status_code == 200 and r.json()["display_name"] == user.username
    # An empty body changes nothing.
    assert (await patch_me(http, user, {})).json()["display_name"] == user.username


async def test_profile_bad_display_names_are_422_naming_the_field(http):
    user = await make_user(http)
    for bad in ("", "   ", "x" * 65, "a\x00b", "line\nbreak", 5, ["a"]):
        assert bad_fields(await patch_me(http, user, {"display_name": bad})) == {"display_name"}, bad
    assert bad_fields(await patch_me(http, user, {"nickname": "x"})) == {"nickname"}
    for bad_id in (0, -1, 2**63, "one"):
        assert bad_fields(await patch_me(http, user, {"avatar_attachment_id": bad_id})) == {"avatar_attachment_id"}
    assert_error(await http.patch("/users/me", json={"display_name": "x"}), 401, "unauthorized")


async def test_profile_avatar_is_an_own_image_readable_by_anyone_and_null_clears(http, http2):
    user, stranger = await make_user(http), await make_user(http)
    image = await upload(http, user, png())
    r = await patch_me(http, user, {"avatar_attachment_id": image["id"]})
    assert r.status_code == 200, r.text
    assert r.json()["avatar"] == image
    profile = (await http2.get(f"/users/{user.id}", headers=stranger.headers)).json()
    assert profile["avatar_url"] == f"/attachments/{image['id']}"
    # A stranger (no chat in common) reads it, and its thumbnail.
    got = await http2.get(profile["avatar_url"], headers=stranger.headers)
    assert got.status_code == 200 and got.content == png()
    assert (await http.get(f"{profile['avatar_url']}/thumbnail", headers=stranger.headers)).status_code == 200
    # Cleared: strangers no longer read it.
    r = await patch_me(http, user, {"avatar_attachment_id": None})
    assert r.json()["avatar"] is None
    assert (await http.get(f"/users/{user.id}", headers=stranger.headers)).json()["avatar_url"] is None
    assert_error(await http.get(f"/attachments/{image['id']}", headers=stranger.headers), 404, "not_found")


async def test_profile_avatar_must_be_the_callers_image_no_message_carries(http):
    alice, bob, chat = await pair(http)
    others = await upload(http, bob, png())
    text = await upload(http, alice, b"just some text, not an image")
    sent = await upload(http, alice, png())
    r = await http.post("/messages", json={"chat_id": chat["id"], "content": "", "attachment_ids": [sent["id"]]}, headers=alice.headers)
    assert r.status_code == 201, r.text
    for attachment_id in (others["id"], text["id"], sent["id"], 987654321):
        assert bad_fields(await patch_me(http, alice, {"avatar_attachment_id": attachment_id})) == {"avatar_attachment_id"}
    # An avatar cannot then be sent in a message (its file would go with the message).
    avatar = await upload(http, alice, png())
    assert (await patch_me(http, alice, {"avatar_attachment_id": avatar["id"]})).status_code == 200
    r = await http.post("/messages", json={"chat_id": chat["id"], "content": "", "attachment_ids": [avatar["id"]]}, headers=alice.headers)
    assert bad_fields(r) == {"attachment_ids"}


async def test_profile_avatar_survives_the_cleanup_job(http, pg, backing):
    user = await make_user(http)
    avatar = await upload(http, user, png())
    orphan = await upload(http, user, png())
    assert (await patch_me(http, user, {"avatar_attachment_id": avatar["id"]})).status_code == 200
    await pg.execute("UPDATE attachments SET created_at = now() - interval '25 hours' WHERE uploader_id = $1", user.id)
    await enqueue_job(backing.redis_url, keys.MEDIA_CLEANUP_JOB)
    rows = await poll_rows(pg, "SELECT id FROM attachments WHERE uploader_id = $1", user.id, until=lambda rows: len(rows) == 1)
    assert [row["id"] for row in rows] == [avatar["id"]]
    assert orphan["id"] != avatar["id"]


async def test_profile_change_reaches_contacts_as_user_updated_and_not_strangers(http, cluster):
    alice, bob, _ = await pair(http)
    carol = await make_user(http)
    dave = await make_user(http)
    await group_chat(http, carol, alice)
    devices = {
        name: await Device.connect(cluster.apis[i % 2].ws_url, user, name)
        for i, (name, user) in enumerate((("bob", bob), ("carol", carol), ("dave", dave), ("alice", alice)))
    }
    r = await patch_me(http, alice, {"display_name": "Alice Liddell"})
    assert r.status_code == 200
    for name in ("bob", "carol", "alice"):  # her contacts, and her own other devices
        frame = await devices[name].next("user_updated")
        user = frame["data"]["user"]
        assert user["id"] == alice.id and user["display_name"] == "Alice Liddell" and user["username"] == alice.username
        assert user["online"] is True and "email" not in user
    await asyncio.sleep(0.5)
    assert not [f for f in devices["dave"].frames if f["type"] == "user_updated"]
    for device in devices.values():
        await device.close()


async def test_search_matches_username_or_display_name_prefix_case_insensitive(http):
    caller = await make_user(http)
    named = await make_user(http)
    other = await make_user(http)
    assert (await patch_me(http, named, {"display_name": "Жанна Zebra"})).status_code == 200
    for q in ("жАН", "ЖАННА z"):
        r = await http.get("/users/search", params={"q": q}, headers=caller.headers)
        assert r.status_code == 200, r.text
        assert [item["id"] for item in r.json()["items"]] == [named.id]
        assert r.json()["items"][0]["display_name"] == "Жанна Zebra"
    r = await http.get("/users/search", params={"q": other.username.upper()}, headers=caller.headers)
    assert [item["id"] for item in r.json()["items"]] == [other.id]
    # A display name in the middle does not match: prefixes only.
    assert (await http.get("/users/search", params={"q": "Zebra"}, headers=caller.headers)).json()["items"] == []
