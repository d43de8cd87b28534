"""Data export over the real cluster: POST /users/me/export answers 202 {id,
status: "pending"}, an arq job writes the archive (profile, chats, every message the user
sent, attachment metadata and URLs) to the media store, GET /users/me/export/{id} answers 202
while pending and the archive once ready, to its owner only; the media cleanup job removes it
after 7 days."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from app import keys
from app.api.responses import ExportArchive
from tests.support.checks import assert_error, enqueue_job, group_chat, poll_rows
from tests.support.clients import User, make_user, pair, send


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (30, 20), (9, 9, 9)).save(out, "PNG")
    return out.getvalue()


def stored(root: Path, key: str) -> bool:
    return any(root.rglob(key))


async def export(http: httpx.AsyncClient, user: User) -> dict[str, Any]:
    r = await http.post("/users/me/export", headers=user.headers)
    assert r.status_code == 202, r.text
    assert r.json()["status"] in ("pending", "ready") and set(r.json()) == {"id", "status"}
    return r.json()  # type: ignore[no-any-return]


async def archive(http: httpx.AsyncClient, user: User, export_id: int, timeout: float = 20.0) -> httpx.Response:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        r = await http.get(f"/users/me/export/{export_id}", headers=user.headers)
        if r.status_code != 202:
            return r
        assert r.json() == {"id": export_id, "status": "pending"}, r.text
        assert loop.time() < deadline, "the export never became ready"
        await asyncio.sleep(0.1)


async def test_export_holds_every_message_the_user_sent_and_nothing_of_other_chats(http, http2):
    alice, bob, chat = await pair(http)
    carol = await make_user(http)
    group = await group_chat(http, alice, bob, carol)
    elsewhere = await group_chat(http, bob, carol, title="without alice")
    upload = await http.post(
        "/attachments", params={"name": "p.png"}, content=png(),
        headers={**alice.headers, "Content-Type": "application/octet-stream"},
    )  # fmt: skip
    attachment = upload.json()
    with_file = await http.post(
        "/messages", json={"chat_id": chat["id"], "content": "with a file", "attachment_ids": [attachment["id"]]},
        headers=alice.headers,
    )  # fmt: skip
    assert with_file.status_code == 201
    mine = [with_file.json()["id"]]
    mine += [(await send(http, alice, group["id"], f"alice {i}"))["id"] for i in range(3)]
    await send(http, bob, chat["id"], "bob in the direct chat")
    await send(http, carol, elsewhere["id"], "never seen by alice")
    left = await group_chat(http, carol, alice, title="left later")
    mine.append((await send(http, alice, left["id"], "before leaving"))["id"])
    assert (await http.delete(f"/chats/{left['id']}/members/{alice.id}", headers=alice.headers)).status_code == 204
    started = await export(http, alice)
    r = await archive(http2, alice, started["id"])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert "attachment" in r.headers["content-disposition"]
    ExportArchive.model_validate_json(r.content, strict=True)  # exactly its documented schema
    body = r.json()
    assert body["profile"]["id"] == alice.id and body["profile"]["email"] == alice.email
    assert [m["id"] for m in body["messages"]] == mine
    assert {m["content"] for m in body["messages"]} == {"with a file", "alice 0", "alice 1", "alice 2", "before leaving"}
    assert body["messages"][0]["attachments"] == [attachment]
    assert {c["id"] for c in body["chats"]} == {chat["id"], group["id"]}
    assert "never seen by alice" not in r.text and "bob in the direct chat" not in r.text
    assert elsewhere["id"] not in {m["chat_id"] for m in body["messages"]}
    assert [a["id"] for a in body["attachments"]] == [attachment["id"]]
    assert body["attachments"][0]["url"] == f"/attachments/{attachment['id']}"


async def test_export_is_its_owners_only(http):
    alice, bob = await make_user(http), await make_user(http)
    started = await export(http, alice)
    assert (await archive(http, alice, started["id"])).status_code == 200
    for other in (bob,):
        assert_error(await http.get(f"/users/me/export/{started['id']}", headers=other.headers), 404, "not_found")
    assert_error(await http.get("/users/me/export/987654321", headers=alice.headers), 404, "not_found")
    assert_error(await http.get(f"/users/me/export/{started['id']}"), 401, "unauthorized")
    assert_error(await http.post("/users/me/export"), 401, "unauthorized")


async def test_export_is_removed_after_seven_days_by_the_cleanup_job(http, pg, backing):
    alice = await make_user(http)
    started = await export(http, alice)
    assert (await archive(http, alice, started["id"])).status_code == 200
    key = await pg.fetchval("SELECT storage_key FROM account_exports WHERE id = $1", started["id"])
    root = Path(backing.env["STORAGE_URL"].removeprefix("file://"))
    assert stored(root, key), "the archive is in the media store"
    await pg.execute("UPDATE account_exports SET created_at = now() - interval '6 days' WHERE id = $1", started["id"])
    kept = await export(http, alice)
    assert (await archive(http, alice, kept["id"])).status_code == 200
    await pg.execute("UPDATE account_exports SET created_at = now() - interval '8 days' WHERE id = $1", started["id"])
    await enqueue_job(backing.redis_url, keys.MEDIA_CLEANUP_JOB)
    rows = await poll_rows(pg, "SELECT id FROM account_exports WHERE user_id = $1", alice.id, until=lambda rows: len(rows) == 1)
    assert [row["id"] for row in rows] == [kept["id"]]
    assert not stored(root, key)
    assert_error(await http.get(f"/users/me/export/{started['id']}", headers=alice.headers), 404, "not_found")
