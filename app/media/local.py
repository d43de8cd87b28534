"""Attachments on the local filesystem (the default: DATA_DIR/media). File I/O runs in threads
so a slow disk never stalls the event loop."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from app.media.store import CHUNK


class LocalStore:
    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        # Keys are ours (random hex), never a client's name; two levels keep directories small.
        return self._root / key[:2] / key[2:4] / key

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        target = self._path(key)

        def copy() -> None:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            partial = target.with_suffix(".partial")
            shutil.copyfile(path, partial)
            os.replace(partial, target)  # readers never see half a file

        await asyncio.to_thread(copy)

    async def read(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(open, self._path(key), "rb")
        try:
            await asyncio.to_thread(handle.seek, start)
            remaining = end - start + 1
            while remaining > 0:
                chunk = await asyncio.to_thread(handle.read, min(CHUNK, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)

    async def presigned_url(self, key: str, *, content_type: str, disposition: str) -> str | None:
        return None

    async def close(self) -> None:
        return None
