"""Attachments over REST: the upload (streamed, raw body or multipart) and the downloads
(ranges, or a redirect to a presigned URL when the store is S3)."""

from __future__ import annotations

import re
from typing import Any

from quart import Response, request
from quart_schema import tag

from app.api.responses import Attachment
from app.api.validation import Binary, authenticated_blueprint, principal, responds, services
from app.errors import AppError, field_error
from app.services.attachments import Download

bp = authenticated_blueprint("attachments", "/attachments")
UPLOAD_PATH = "/attachments"
MAX_THUMBNAIL = 4 * 1024 * 1024  # far above a 320 px image: the read's upper bound
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(AppError):
    status, code, message = 416, "range_not_satisfiable", "The requested range is outside the file."


@bp.after_request
async def no_sniffing(response: Response) -> Response:
    # The stored type is ours (sniffed); browsers must not second-guess it into HTML.
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("")
@tag(["attachments"])
@responds(Attachment, 201, errors=(413, 422, 429))
async def upload() -> tuple[dict[str, Any], int]:
    name = request.args.get("name")
    if name is not None and len(name) > 255:
        raise field_error("name", "At most 255 characters.")
    attachment = await services().attachments.upload(
        user_id=principal().user_id,
        name=name,
        mimetype=request.mimetype,
        boundary=request.mimetype_params.get("boundary"),
        content_length=request.content_length,
        body=request.body,
    )
    return attachment, 201


@bp.get("/<int(signed=True):attachment_id>")
@tag(["attachments"])
@responds(Binary, 200, 206, 302, errors=(404, 416))
async def download(attachment_id: int) -> Response:
    found = await services().attachments.download(user_id=principal().user_id, attachment_id=attachment_id, thumbnail=False)
    return _answer(found)


@bp.get("/<int(signed=True):attachment_id>/thumbnail")
@tag(["attachments"])
@responds(Binary, 200, 302, errors=(404,))
async def thumbnail(attachment_id: int) -> Response:
    found = await services().attachments.download(user_id=principal().user_id, attachment_id=attachment_id, thumbnail=True)
    return _answer(found)


def _answer(found: Download) -> Response:
    headers = {"Content-Disposition": found.disposition, "Cache-Control": "private, max-age=300"}
    if found.redirect is not None:
        return Response("", status=302, headers={**headers, "Location": found.redirect})
    store = services().attachments.store
    if found.size is None:  # a thumbnail: small, sent whole
        return Response(store.read(found.key, 0, MAX_THUMBNAIL), content_type=found.content_type, headers=headers)
    headers["Accept-Ranges"] = "bytes"
    start, end = _range(request.headers.get("Range"), found.size)
    status = 200
    if (start, end) != (0, found.size - 1):
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{found.size}"
    headers["Content-Length"] = str(end - start + 1)
    return Response(store.read(found.key, start, end), status=status, content_type=found.content_type, headers=headers)


def _range(header: str | None, size: int) -> tuple[int, int]:
    """One `bytes=a-b`, `a-` or `-n` range (RFC 9110); anything else is ignored (the whole file)."""
    match = _RANGE.match(header or "")
    if match is None or match.groups() == ("", ""):
        return 0, size - 1
    first, last = match.groups()
    if first == "":
        start, end = max(size - int(last), 0), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise RangeNotSatisfiable(details={"size": size})
    return start, end
