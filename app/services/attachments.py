"""Uploading attachments and reading them back: limits, quota, type sniffing, thumbnails, the
access rule; the bytes go to the media store (app/media), the rows to app/storage/attachments."""

from __future__ import annotations

import asyncio
import re
import secrets
import tempfile
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from app import keys
from app.config import Settings
from app.errors import NotFound, PayloadTooLarge, field_error
from app.media.inspect import INLINE_TYPES, NotAnImage, inspect
from app.media.store import MediaStore, open_store
from app.services.ratelimit import SlidingWindowLimiter
from app.services.views import attachment_body
from app.storage import attachments as attachment_store

HEAD = 8192  # bytes the type is sniffed from
UPLOAD_WINDOW = 3600.0  # UPLOAD_RATE_LIMIT counts per hour
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


def clean_name(name: str | None) -> str:
    """A display name for the file: no path, no control characters, at most 255 characters."""
    name = unicodedata.normalize("NFC", _UNSAFE_NAME.sub("_", (name or "").strip()))[:255].strip()
    return name if name not in ("", ".", "..") else "file"


def disposition(content_type: str, name: str, *, thumbnail: bool = False) -> str:
    """Only the image types the contract names render inline; everything else downloads."""
    kind = "inline" if thumbnail or content_type in INLINE_TYPES else "attachment"
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


@dataclass(frozen=True)
class Download:
    """What to answer a GET with: a redirect to the store, or bytes [start, end] of the object."""

    content_type: str
    disposition: str
    size: int | None  # None: a thumbnail, sent whole (no ranges)
    key: str
    redirect: str | None


class _Receiver:
    """Writes the upload to a local temporary file as it arrives (memory stays at one chunk),
    refusing it as soon as it passes `allowance` bytes."""

    def __init__(self, path: Path, allowance: int, too_large: str) -> None:
        self.path = path
        self.size = 0
        self.head = b""
        self._allowance = allowance
        self._too_large = too_large
        self._handle = path.open("wb")

    async def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self._allowance:
            raise PayloadTooLarge(self._too_large)
        if len(self.head) < HEAD:
            self.head += chunk[: HEAD - len(self.head)]
        await asyncio.to_thread(self._handle.write, chunk)

    def close(self) -> None:
        self._handle.close()


class AttachmentService:
    def __init__(self, settings: Settings, limiter: SlidingWindowLimiter) -> None:
        self._max_bytes = settings.upload_max_bytes
        self._quota = settings.user_storage_quota
        self._limiter = limiter
        self.store: MediaStore = open_store(settings.media_url())

    async def close(self) -> None:
        await self.store.close()

    async def upload(
        self,
        *,
        user_id: int,
        name: str | None,
        mimetype: str,
        boundary: str | None,
        content_length: int | None,
        body: AsyncIterator[bytes],
    ) -> dict[str, Any]:
        """Store one file, the raw body or the multipart field `file`; 413 past
        UPLOAD_MAX_BYTES or the user's USER_STORAGE_QUOTA, with nothing kept."""
        await self._limiter.enforce(
            keys.UPLOAD_RATE.format(user_id=user_id), scope="upload", message="Too many uploads; retry later."
        )
        left = self._quota - await attachment_store.stored_bytes(user_id)
        allowance = min(self._max_bytes, left)
        too_large = (
            f"A file may have at most {self._max_bytes} bytes."
            if allowance == self._max_bytes
            else f"Your storage quota leaves {max(left, 0)} bytes."
        )
        multipart = mimetype == "multipart/form-data"
        if allowance <= 0 or (content_length is not None and not multipart and content_length > allowance):
            raise PayloadTooLarge(too_large)
        with tempfile.TemporaryDirectory(prefix="mc-upload-") as scratch:
            receiver = _Receiver(Path(scratch) / "upload", allowance, too_large)
            try:
                if multipart:
                    name = await _receive_multipart(body, boundary, receiver) or name
                else:
                    async for chunk in body:
                        await receiver.write(chunk)
            finally:
                receiver.close()
            if receiver.size == 0:
                raise field_error("file", "The file is empty.")
            try:
                found = await asyncio.to_thread(inspect, receiver.path, receiver.head)
            except NotAnImage as exc:
                raise field_error("file", str(exc)) from None
            key = secrets.token_hex(16)
            # The thumbnail's type is in its key: PNG keeps transparency, the rest are JPEG.
            suffix = ".png" if found.thumbnail_type == "image/png" else ".jpg"
            thumbnail_key = f"{key}-thumb{suffix}" if found.thumbnail is not None else None
            await self.store.put_file(key, receiver.path, found.content_type)
            if found.thumbnail is not None and thumbnail_key is not None:
                await self.store.put_file(thumbnail_key, found.thumbnail, found.thumbnail_type or "image/jpeg")
        row = await attachment_store.insert(
            uploader_id=user_id,
            name=clean_name(name),
            content_type=found.content_type,
            size=receiver.size,
            width=found.width,
            height=found.height,
            storage_key=key,
            thumbnail_key=thumbnail_key,
        )
        return attachment_body(row)

    async def download(self, *, user_id: int, attachment_id: int, thumbnail: bool) -> Download:
        """The file (or its thumbnail) for its uploader and for members of a chat where a live
        message carries it; 404 for everyone else, as for one that does not exist."""
        row = await attachment_store.readable(attachment_id, user_id)
        if row is None or (thumbnail and row["thumbnail_key"] is None):
            raise NotFound("No such attachment.")
        key = row["thumbnail_key"] if thumbnail else row["storage_key"]
        content_type = ("image/png" if key.endswith(".png") else "image/jpeg") if thumbnail else row["content_type"]
        size = None if thumbnail else row["size"]
        header = disposition(content_type, row["name"], thumbnail=thumbnail)
        redirect = await self.store.presigned_url(key, content_type=content_type, disposition=header)
        return Download(content_type=content_type, disposition=header, size=size, key=key, redirect=redirect)


async def remove_expired(store: MediaStore, *, orphan_hours: float, limit: int = 500) -> int:
    """Delete the files, then the rows, of uploads no message took within orphan_hours and of
    deleted messages; a crash between the two leaves rows whose files are gone, which the next
    run removes (a missing file is no error)."""
    rows = await attachment_store.expired(orphan_hours=orphan_hours, limit=limit)
    for row in rows:
        await store.delete(row["storage_key"])
        if row["thumbnail_key"]:
            await store.delete(row["thumbnail_key"])
    await attachment_store.delete_rows([row["id"] for row in rows])
    return len(rows)


async def _receive_multipart(body: AsyncIterator[bytes], boundary: str | None, receiver: _Receiver) -> str | None:
    """Stream the multipart field `file` into the receiver; returns its filename."""
    if not boundary:
        raise field_error("body", "A multipart body needs a boundary.")
    decoder = MultipartDecoder(boundary.encode(), max_form_memory_size=64 * 1024)
    in_file = found = ended = False
    filename: str | None = None
    chunks = body.__aiter__()
    while True:
        event = decoder.next_event()
        if isinstance(event, NeedData):
            if ended:
                raise field_error("body", "The multipart body ends before its closing boundary.")
            chunk = await anext(chunks, None)
            ended = chunk is None
            decoder.receive_data(chunk)
        elif isinstance(event, File):
            in_file = event.name == "file" and not found
            if in_file:
                found, filename = True, event.filename
        elif isinstance(event, Field):
            in_file = False
        elif isinstance(event, Data):
            if in_file:
                await receiver.write(event.data)
        elif isinstance(event, Epilogue):
            break
    if not found:
        raise field_error("file", "The multipart body has no `file` field.")
    return filename
