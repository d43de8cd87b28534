"""Attachments in S3-compatible storage (AWS, MinIO, Ceph, moto ...), through aiobotocore.
Credentials come from the standard AWS environment variables and files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from app.media.store import CHUNK, PRESIGN_SECONDS

PART = 8 * 1024 * 1024  # multipart upload parts (S3's minimum is 5 MiB): memory stays at one part


class S3Store:
    def __init__(self, *, bucket: str, endpoint_url: str | None, region: str | None) -> None:
        self._bucket = bucket
        self._endpoint_url = endpoint_url
        self._region = region
        self._stack = AsyncExitStack()
        self._client: Any = None
        self._lock = asyncio.Lock()

    async def _s3(self) -> Any:
        async with self._lock:
            if self._client is None:
                session = get_session()
                # SigV4 everywhere: presigned URLs then state their lifetime (X-Amz-Expires).
                config = AioConfig(signature_version="s3v4")
                self._client = await self._stack.enter_async_context(
                    session.create_client("s3", endpoint_url=self._endpoint_url, region_name=self._region, config=config)
                )
        return self._client

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        s3 = await self._s3()
        size = (await asyncio.to_thread(path.stat)).st_size
        if size <= PART:
            body = await asyncio.to_thread(path.read_bytes)
            await s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=content_type)
            return
        upload = await s3.create_multipart_upload(Bucket=self._bucket, Key=key, ContentType=content_type)
        parts = []
        try:
            handle = await asyncio.to_thread(path.open, "rb")
            with handle:
                number = 1
                while chunk := await asyncio.to_thread(handle.read, PART):
                    part = await s3.upload_part(
                        Bucket=self._bucket, Key=key, UploadId=upload["UploadId"], PartNumber=number, Body=chunk
                    )
                    parts.append({"ETag": part["ETag"], "PartNumber": number})
                    number += 1
            await s3.complete_multipart_upload(
                Bucket=self._bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
            )
        except BaseException:
            await s3.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload["UploadId"])
            raise

    async def read(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        s3 = await self._s3()
        answer = await s3.get_object(Bucket=self._bucket, Key=key, Range=f"bytes={start}-{end}")
        async with answer["Body"] as stream:
            while chunk := await stream.read(CHUNK):
                yield chunk

    async def delete(self, key: str) -> None:
        s3 = await self._s3()
        await s3.delete_object(Bucket=self._bucket, Key=key)

    async def presigned_url(self, key: str, *, content_type: str, disposition: str) -> str | None:
        s3 = await self._s3()
        url: str = await s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self._bucket,
                "Key": key,
                "ResponseContentType": content_type,
                "ResponseContentDisposition": disposition,
            },
            ExpiresIn=PRESIGN_SECONDS,
        )
        return url

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None
