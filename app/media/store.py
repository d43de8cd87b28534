"""The media store interface and the backend STORAGE_URL names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

CHUNK = 64 * 1024
PRESIGN_SECONDS = 300  # the contract: presigned URLs valid at most 5 minutes


class MediaStore(Protocol):
    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Store the file at `path` under `key`, streamed (never whole in memory)."""

    def read(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes [start, end] (inclusive) of the object, in chunks."""

    async def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error (cleanup runs again after crashes)."""

    async def presigned_url(self, key: str, *, content_type: str, disposition: str) -> str | None:
        """A URL the client may GET directly for PRESIGN_SECONDS, or None when the store has
        none (the API then streams the bytes itself)."""

    async def close(self) -> None: ...


def open_store(url: str) -> MediaStore:
    """`file:///abs/path` or `s3://bucket?endpoint_url=...&region=...`."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        from app.media.local import LocalStore

        return LocalStore(Path(unquote(parts.netloc + parts.path)))
    if parts.scheme == "s3":
        from app.media.s3 import S3Store

        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        if not parts.netloc:
            raise ValueError("STORAGE_URL s3://<bucket>?endpoint_url=...&region=... names no bucket")
        return S3Store(bucket=parts.netloc, endpoint_url=query.get("endpoint_url"), region=query.get("region"))
    raise ValueError(f"STORAGE_URL must be file://... or s3://..., not {parts.scheme or url!r}")
