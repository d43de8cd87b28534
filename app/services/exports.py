"""Data exports (POST /users/me/export): the `export` arq job writes a JSON archive of the
account (profile, chats, every message it sent, every upload's metadata and URL) to the media
store; only its owner may read it, and the media cleanup cron job removes it after
EXPORT_RETENTION_DAYS. The pending row is written before the job is enqueued, and the cleanup
job enqueues again any export still pending after a while, so a lost enqueue or a failed job
still ends in an archive."""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from arq.connections import ArqRedis

from app import keys
from app.errors import NotFound
from app.jsonutil import iso
from app.media.store import MediaStore
from app.services.views import attachment_body, public_user
from app.storage import exports as export_store
from app.storage import users as user_store

EXPORT_RETENTION_DAYS = 7
MESSAGES_PAGE = 1000
ARCHIVE_TYPE = "application/json"
STALE_PENDING_SECONDS = 120.0  # an export pending this long is enqueued again by the cleanup


@dataclass(frozen=True)
class Archive:
    key: str
    size: int
    disposition: str
    redirect: str | None


def status_body(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "status": row["status"]}


class ExportService:
    def __init__(self, redis: ArqRedis, store: MediaStore) -> None:
        self._redis = redis
        self._store = store

    async def request(self, *, user_id: int) -> dict[str, Any]:
        """`{id, status: "pending"}`; while one is pending, that one (a repeat builds nothing twice)."""
        row = await export_store.pending_of(user_id) or await export_store.insert(
            user_id, f"export-{secrets.token_hex(16)}.json"
        )
        await enqueue_export(self._redis, row["id"])
        return status_body(row)

    async def fetch(self, *, user_id: int, export_id: int) -> dict[str, Any] | Archive:
        """The status while pending, the archive once ready; 404 for anyone but its owner."""
        row = await export_store.get(export_id)
        if row is None or row["user_id"] != user_id:
            raise NotFound("No such export.")
        if row["status"] != "ready":
            return status_body(row)
        disposition = f'attachment; filename="messenger-export-{export_id}.json"'
        redirect = await self._store.presigned_url(row["storage_key"], content_type=ARCHIVE_TYPE, disposition=disposition)
        return Archive(key=row["storage_key"], size=row["size"], disposition=disposition, redirect=redirect)


async def enqueue_export(redis: ArqRedis, export_id: int) -> None:
    await redis.enqueue_job(keys.EXPORT_JOB, export_id, _job_id=keys.EXPORT_JOB_ID.format(export_id=export_id))


async def build_export(store: MediaStore, export_id: int) -> bool:
    """Write the archive of a pending export to its key, streamed through a temporary file
    (messages a page at a time), then mark it ready; False when there is nothing to do."""
    row = await export_store.get(export_id)
    if row is None or row["status"] != "pending":
        return False
    user_id = row["user_id"]
    account = await user_store.get_account(user_id)
    if account is None or account["deleted_at"] is not None:
        return False
    with tempfile.TemporaryDirectory(prefix="mc-export-") as scratch:
        path = Path(scratch) / "archive.json"
        with path.open("wb") as out:
            await _write_archive(out, user_id, account)
        size = path.stat().st_size
        await store.put_file(row["storage_key"], path, ARCHIVE_TYPE)
    await export_store.mark_ready(export_id, size)
    return True


async def _write_archive(out: Any, user_id: int, account: dict[str, Any]) -> None:
    def put(value: Any) -> None:
        out.write(orjson.dumps(value))

    out.write(b'{"format":"messenger-core-export/1","exported_at":')
    put(iso(datetime.now(UTC)))
    out.write(b',"profile":')
    put(public_user(account))
    out.write(b',"chats":')
    put(
        [
            {
                "id": chat["id"], "type": chat["type"], "title": chat["title"], "created_at": iso(chat["created_at"]),
                "role": chat["role"], "joined_at": iso(chat["joined_at"]), "members": _json(chat["members"]) or [],
            }
            for chat in await export_store.chats_of(user_id)
        ]
    )  # fmt: skip
    out.write(b',"messages":[')
    after, first = 0, True
    while rows := await export_store.sent_messages(user_id, after_id=after, limit=MESSAGES_PAGE):
        for message in rows:
            out.write(b"" if first else b",")
            first = False
            put(
                {
                    "id": message["id"], "chat_id": message["chat_id"], "seq": message["seq"],
                    "content": message["content"], "created_at": iso(message["created_at"]),
                    "edited_at": iso(message["edited_at"]), "is_deleted": message["is_deleted"],
                    "reply_to_id": message["reply_to_id"], "mentions": list(message["mentions"]),
                    "attachments": [attachment_body(a) for a in _json(message["attachments"])],
                }
            )  # fmt: skip
        after = rows[-1]["id"]
    out.write(b'],"attachments":')
    put(
        [
            {**attachment_body(upload), "message_id": upload["message_id"], "created_at": iso(upload["created_at"])}
            for upload in await export_store.uploads(user_id)
        ]
    )
    out.write(b"}")


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, (str, bytes)) else value


async def remove_exports(store: MediaStore, rows: list[dict[str, Any]]) -> int:
    """Files first, then rows (a crash between leaves rows whose files are gone: no error)."""
    for row in rows:
        if row["storage_key"]:
            await store.delete(row["storage_key"])
    await export_store.delete_rows([row["id"] for row in rows])
    return len(rows)


async def expire_exports(redis: ArqRedis, store: MediaStore) -> int:
    """For the media cleanup job: remove archives past EXPORT_RETENTION_DAYS, and enqueue again
    exports pending too long (a lost enqueue, a job out of retries)."""
    removed = 0
    while rows := await export_store.expired(days=EXPORT_RETENTION_DAYS, limit=500):
        removed += await remove_exports(store, rows)
    for export_id in await export_store.stale_pending(older_than_seconds=STALE_PENDING_SECONDS, limit=100):
        await enqueue_export(redis, export_id)
    return removed
