"""Attachments against the real server: uploads streamed to storage (the filesystem and a real
S3-compatible server, moto's standalone mode), the stored type sniffed from the bytes, images'
sizes and thumbnails, the access rule, ranges, size and quota limits, messages that carry
files, and the cleanup job run by a real worker."""

from __future__ import annotations

import asyncio
import io
import os
import struct
import subprocess
import sys
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psutil
import pytest
from PIL import Image

from app import keys
from tests.support.checks import assert_error, enqueue_job, group_chat, poll_rows
from tests.support.clients import Device, User, make_user, pair
from tests.support.processes import free_port

PNG_SIZE = (800, 400)


def png(size: tuple[int, int] = PNG_SIZE, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 30) if mode == "RGB" else (200, 30, 30, 128)).save(out, "PNG")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (a decompression bomb's shape)."""
    data = bytearray(png((1, 1)))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


async def upload(http: httpx.AsyncClient, user: User, content: Any, *, name: str | None = "f", content_type: str = "application/octet-stream") -> httpx.Response:
    params = {"name": name} if name is not None else {}
    return await http.post("/attachments", params=params, content=content, headers={**user.headers, "Content-Type": content_type})


async def send_with(http: httpx.AsyncClient, user: User, chat_id: int, ids: list[int], content: str = "", client_msg_id: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"chat_id": chat_id, "content": content, "attachment_ids": ids}
    if client_msg_id:
        body["client_msg_id"] = client_msg_id
    return await http.post("/messages", json=body, headers=user.headers)


def media_root(backing: Any) -> Path:
    return Path(backing.env["STORAGE_URL"].removeprefix("file://"))


def stored_files(root: Path) -> set[str]:
    return {p.name for p in root.rglob("*") if p.is_file()}


async def test_an_image_is_sniffed_measured_thumbnailed_and_served_inline(http):
    alice = await make_user(http)
    r = await upload(http, alice, png(), name="holiday.txt", content_type="text/plain")
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["content_type"], body["width"], body["height"], body["size"]) == ("image/png", 800, 400, len(png()))
    assert body["name"] == "holiday.txt" and body["url"] == f"/attachments/{body['id']}"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    got = await http.get(body["url"], headers=alice.headers)
    assert got.status_code == 200 and got.content == png()
    assert got.headers["Content-Type"] == "image/png" and got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Disposition"].startswith("inline;")
    thumb = await http.get(body["thumbnail_url"], headers=alice.headers)
    assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumb.content)).size == (320, 160)
    # Transparency keeps a PNG thumbnail.
    clear = (await upload(http, alice, png((100, 1000), "RGBA"))).json()
    thumb = await http.get(clear["thumbnail_url"], headers=alice.headers)
    assert thumb.headers["Content-Type"] == "image/png" and Image.open(io.BytesIO(thumb.content)).size == (32, 320)


async def test_other_files_download_with_a_safe_name_and_the_sniffed_type(http):
    alice = await make_user(http)
    html = b"<html><script>alert(1)</script></html>"
    files = {"file": ("../../etc/пароль.html", html, "text/html")}
    r = await http.post("/attachments", files=files, headers=alice.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["content_type"] == "application/octet-stream" and body["thumbnail_url"] is None
    assert "/" not in body["name"] and body["name"].endswith("пароль.html")
    got = await http.get(body["url"], headers=alice.headers)
    assert got.content == html and got.headers["Content-Type"] == "application/octet-stream"
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''" in got.headers["Content-Disposition"]
    assert_error(await http.get(f"{body['url']}/thumbnail", headers=alice.headers), 404, "not_found")
    pdf = (await upload(http, alice, b"%PDF-1.7\n" + b"x" * 100)).json()
    assert pdf["content_type"] == "application/pdf"


async def test_ranges_are_served_and_an_unsatisfiable_one_is_416(http):
    alice = await make_user(http)
    data = bytes(range(256)) * 40
    url = (await upload(http, alice, data)).json()["url"]
    r = await http.get(url, headers={**alice.headers, "Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20] and r.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    r = await http.get(url, headers={**alice.headers, "Range": "bytes=-5"})
    assert r.status_code == 206 and r.content == data[-5:]
    r = await http.get(url, headers={**alice.headers, "Range": f"bytes={len(data) - 3}-"})
    assert r.status_code == 206 and r.content == data[-3:]
    assert (await http.get(url, headers={**alice.headers, "Range": "pages=1"})).content == data  # ignored
    assert_error(await http.get(url, headers={**alice.headers, "Range": f"bytes={len(data)}-"}), 416, "range_not_satisfiable")


async def test_bad_uploads_are_refused_and_store_nothing(http, pg, backing):
    alice = await make_user(http)
    before = stored_files(media_root(backing))
    bomb = await upload(http, alice, png_claiming(60_000, 60_000))
    assert_error(bomb, 422, "validation_error")
    assert [d["field"] for d in bomb.json()["error"]["details"]] == ["file"]
    broken = await upload(http, alice, png()[:100])  # a PNG signature, then nothing readable
    assert_error(broken, 422, "validation_error")
    assert_error(await upload(http, alice, b""), 422, "validation_error")
    assert_error(await http.post("/attachments", files={"other": ("a", b"x")}, headers=alice.headers), 422, "validation_error")
    assert_error(await upload(http, alice, b"x", name="n" * 256), 422, "validation_error")
    assert_error(await upload(http, alice, b"x", content_type="multipart/form-data"), 422, "validation_error")
    assert_error(await http.post("/attachments", content=b"x"), 401, "unauthorized")
    assert await pg.fetchval("SELECT count(*) FROM attachments WHERE uploader_id = $1", alice.id) == 0
    assert stored_files(media_root(backing)) == before
    # Other routes keep the 1 MiB body limit.
    r = await http.post("/messages", content=b"{" + b" " * (1024 * 1024 + 1), headers={**alice.headers, "Content-Type": "application/json"})
    assert_error(r, 413, "payload_too_large")


async def test_who_may_read_an_attachment(http):
    alice, bob, chat = await pair(http)
    carol, outsider = await make_user(http), await make_user(http)
    group = await group_chat(http, alice, bob, carol)
    body = (await upload(http, alice, png())).json()
    # Before a message carries it: the uploader only.
    assert (await http.get(body["url"], headers=alice.headers)).status_code == 200
    assert_error(await http.get(body["url"], headers=bob.headers), 404, "not_found")
    r = await send_with(http, alice, group["id"], [body["id"]], "look")
    assert r.status_code == 201, r.text
    for reader in (alice, bob, carol):
        assert (await http.get(body["url"], headers=reader.headers)).status_code == 200
        assert (await http.get(body["thumbnail_url"], headers=reader.headers)).status_code == 200
    for stranger in (outsider,):
        assert_error(await http.get(body["url"], headers=stranger.headers), 404, "not_found")
        assert_error(await http.get(body["thumbnail_url"], headers=stranger.headers), 404, "not_found")
    # A removed member no longer reads it; the others still do.
    assert (await http.delete(f"/chats/{group['id']}/members/{carol.id}", headers=alice.headers)).status_code == 204
    assert_error(await http.get(body["url"], headers=carol.headers), 404, "not_found")
    assert_error(await http.get("/attachments/999999999", headers=alice.headers), 404, "not_found")
    assert_error(await http.get(f"/attachments/{2**63}", headers=alice.headers), 404, "not_found")
    # Once the message is deleted, only the uploader (until the cleanup job) reads it.
    await http.delete(f"/messages/{r.json()['id']}", headers=alice.headers)
    assert_error(await http.get(body["url"], headers=bob.headers), 404, "not_found")
    assert chat  # the direct chat plays no part: bob reads through the group only


async def test_a_message_carries_up_to_ten_of_the_senders_unused_uploads(http, cluster, pg):
    alice, bob, chat = await pair(http)
    ids = [(await upload(http, alice, f"file {i}".encode(), name=f"f{i}.txt")).json()["id"] for i in range(11)]
    bobs = (await upload(http, bob, b"bob's")).json()["id"]
    assert_error(await send_with(http, alice, chat["id"], ids), 422, "validation_error")  # 11
    assert_error(await send_with(http, alice, chat["id"], [bobs]), 422, "validation_error")  # someone else's
    assert_error(await send_with(http, alice, chat["id"], [ids[0], 999_999_999]), 422, "validation_error")
    r = await http.post("/messages", json={"chat_id": chat["id"], "content": ""}, headers=alice.headers)
    assert_error(r, 422, "validation_error")  # empty content needs attachments
    assert await pg.fetchval("SELECT last_seq FROM chats WHERE id = $1", chat["id"]) == 0
    b = await Device.connect(cluster.apis[1].ws_url, bob, "b")
    r = await send_with(http, alice, chat["id"], ids[:10], client_msg_id="with-files")
    assert r.status_code == 201, r.text
    message = r.json()
    assert message["content"] == "" and [a["id"] for a in message["attachments"]] == ids[:10]
    assert message["attachments"][0]["name"] == "f0.txt" and message["attachments"][0]["url"] == f"/attachments/{ids[0]}"
    delivered = (await b.next("message"))["data"]["message"]
    assert delivered["attachments"] == message["attachments"]
    # A repeat gets the first message back; a used upload cannot go out again.
    again = await send_with(http, alice, chat["id"], ids[:10], client_msg_id="with-files")
    assert again.status_code == 200 and again.json()["id"] == message["id"]
    assert_error(await send_with(http, alice, chat["id"], [ids[0]]), 422, "validation_error")
    r = await send_with(http, alice, chat["id"], [ids[10]], "over ws too?")
    assert r.status_code == 201
    await b.close()


async def test_two_sends_racing_for_one_upload_store_one_message(http, http2, pg):
    alice, _, chat = await pair(http)
    upload_id = (await upload(http, alice, b"once")).json()["id"]
    results = await asyncio.gather(*(send_with(client, alice, chat["id"], [upload_id], f"try {i}") for i, client in enumerate([http, http2] * 3)))
    assert sorted(r.status_code for r in results) == [201, 422, 422, 422, 422, 422]
    assert await pg.fetchval("SELECT count(*) FROM messages WHERE chat_id = $1", chat["id"]) == 1
    assert await pg.fetchval("SELECT last_seq FROM chats WHERE id = $1", chat["id"]) == 1


async def test_size_and_quota_limits_answer_413_and_keep_nothing(stacks, backing, tmp_path):
    from tests.conftest import make_stack

    media = tmp_path / "media"
    stack = await make_stack(
        stacks, backing, UPLOAD_MAX_BYTES="100000", USER_STORAGE_QUOTA="150000", STORAGE_URL=f"file://{media}"
    )
    api = stack.add_api()
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
        alice = await make_user(http)
        assert_error(await upload(http, alice, b"x" * 100_001), 413, "payload_too_large")

        async def chunked(total: int) -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
            for _ in range(total // 10_000):
                yield b"y" * 10_000

        assert_error(await upload(http, alice, chunked(120_000)), 413, "payload_too_large")
        files = {"file": ("big.bin", b"z" * 100_001)}
        assert_error(await http.post("/attachments", files=files, headers=alice.headers), 413, "payload_too_large")
        assert (await upload(http, alice, b"a" * 100_000)).status_code == 201
        r = await upload(http, alice, b"b" * 60_000)
        assert_error(r, 413, "payload_too_large")
        assert "quota" in r.json()["error"]["message"]
        assert (await upload(http, alice, b"c" * 50_000)).status_code == 201
        assert_error(await upload(http, alice, b"d"), 413, "payload_too_large")
    assert len(stored_files(media)) == 2  # only the two accepted files


async def test_a_25_mib_upload_streams_through_flat_memory(http, cluster):
    alice = await make_user(http)
    api = psutil.Process(cluster.api.popen.pid)
    total = 25 * 1024 * 1024
    chunk = os.urandom(256 * 1024)

    async def body(size: int) -> AsyncIterator[bytes]:
        # About 120 MB/s, a fast LAN: Quart reads the socket without backpressure, so what
        # arrives faster than the disk takes it waits in memory; loopback at full speed on two
        # busy cores would measure the scheduler, not the streaming.
        for _ in range(size // len(chunk)):
            yield chunk
            await asyncio.sleep(0.002)

    # The first upload starts the file-writing threads and their allocator arenas.
    await http.post("/attachments", content=body(4 * 1024 * 1024), headers={**alice.headers, "Content-Type": "application/octet-stream"})
    before = api.memory_info().rss
    peak = before
    done = False

    async def sample() -> None:
        nonlocal peak
        while not done:
            peak = max(peak, api.memory_info().rss)
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    r = await http.post("/attachments", content=body(total), headers={**alice.headers, "Content-Type": "application/octet-stream"}, timeout=120)
    done = True
    await sampler
    assert r.status_code == 201 and r.json()["size"] == total
    # The whole file in memory would be +25 MiB at least; streamed, the API holds a few chunks.
    assert peak - before < 12 * 1024 * 1024, f"API RSS grew by {(peak - before) / 2**20:.1f} MiB during a 25 MiB upload"


async def test_the_cleanup_job_removes_orphans_and_deleted_messages_files(http, backing, pg):
    alice, _, chat = await pair(http)
    root = media_root(backing)
    orphan = (await upload(http, alice, png())).json()
    fresh = (await upload(http, alice, b"fresh")).json()
    carried = (await upload(http, alice, b"carried")).json()
    kept = (await upload(http, alice, b"kept")).json()
    message = (await send_with(http, alice, chat["id"], [carried["id"]])).json()
    await send_with(http, alice, chat["id"], [kept["id"]])
    await http.delete(f"/messages/{message['id']}", headers=alice.headers)
    await pg.execute("UPDATE attachments SET created_at = now() - interval '25 hours' WHERE id = $1", orphan["id"])
    keys_of = {row["id"]: row for row in await pg.fetch("SELECT id, storage_key, thumbnail_key FROM attachments WHERE uploader_id = $1", alice.id)}
    assert {keys_of[orphan["id"]]["storage_key"], keys_of[orphan["id"]]["thumbnail_key"]} <= stored_files(root)
    # The cron job, run now by the session's real worker.
    await enqueue_job(backing.redis_url, keys.MEDIA_CLEANUP_JOB)
    rows = await poll_rows(
        pg, "SELECT id FROM attachments WHERE uploader_id = $1", alice.id, until=lambda rows: len(rows) == 2
    )
    assert {row["id"] for row in rows} == {fresh["id"], kept["id"]}
    files = stored_files(root)
    for gone in (orphan["id"], carried["id"]):
        assert keys_of[gone]["storage_key"] not in files
    assert keys_of[orphan["id"]]["thumbnail_key"] not in files
    assert {keys_of[fresh["id"]]["storage_key"], keys_of[kept["id"]]["storage_key"]} <= files


# --- S3-compatible storage, against moto's standalone server --------------------------------


@pytest.fixture
def s3_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "moto.log").open("wb")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(url, timeout=0.5)
                break
            except httpx.HTTPError:
                if proc.poll() is not None:
                    raise RuntimeError((tmp_path / "moto.log").read_text()) from None
                import time

                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


S3_ENV = {"AWS_ACCESS_KEY_ID": "test-key", "AWS_SECRET_ACCESS_KEY": "test-secret", "AWS_DEFAULT_REGION": "us-east-1"}


async def test_s3_storage_stores_uploads_and_redirects_to_presigned_urls(stacks, backing, s3_server):
    from aiobotocore.session import get_session

    from tests.conftest import make_stack

    session = get_session()
    async with session.create_client("s3", endpoint_url=s3_server, region_name="us-east-1",
                                     aws_access_key_id="test-key", aws_secret_access_key="test-secret") as s3:  # fmt: skip
        await s3.create_bucket(Bucket="media")
        storage = f"s3://media?endpoint_url={s3_server}&region=us-east-1"
        stack = await make_stack(stacks, backing, STORAGE_URL=storage, **S3_ENV)
        api = stack.add_api()
        stack.add_worker()
        async with httpx.AsyncClient(base_url=api.base_url, timeout=60) as http, httpx.AsyncClient(timeout=30) as anonymous:
            alice, bob, chat = await pair(http)
            big = os.urandom(9 * 1024 * 1024)  # past one multipart part
            image = (await upload(http, alice, png())).json()
            blob = (await upload(http, alice, big)).json()
            assert blob["size"] == len(big)
            listed = await s3.list_objects_v2(Bucket="media")
            assert len(listed["Contents"]) == 3  # the image, its thumbnail, the big file
            await send_with(http, alice, chat["id"], [image["id"], blob["id"]])
            for attachment, expected in ((blob, big), (image, png())):
                r = await http.get(attachment["url"], headers=bob.headers)
                assert r.status_code == 302 and r.headers["X-Content-Type-Options"] == "nosniff"
                location = r.headers["Location"]
                query = parse_qs(urlsplit(location).query)
                assert int(query["X-Amz-Expires"][0]) <= 300
                direct = await anonymous.get(location)  # no bearer token: the signature is the key
                assert direct.status_code == 200 and direct.content == expected
            assert "attachment" in parse_qs(urlsplit((await http.get(blob["url"], headers=bob.headers)).headers["Location"]).query)["response-content-disposition"][0]
            thumb = await http.get(image["thumbnail_url"], headers=bob.headers)
            assert thumb.status_code == 302
            assert Image.open(io.BytesIO((await anonymous.get(thumb.headers["Location"])).content)).size == (320, 160)
            outsider = await make_user(http)
            assert_error(await http.get(blob["url"], headers=outsider.headers), 404, "not_found")
