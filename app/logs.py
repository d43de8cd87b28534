"""Structured logs: one JSON object per line, never a token, password or message content.

Every line written while serving an HTTP request or a WebSocket frame carries `request_id`:
app/server.py sets REQUEST_ID per request (the client's X-Request-ID when it is sane, else a
generated one) and per WebSocket connection; app/ws/endpoint.py moves it on per frame.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from typing import Any

from app.jsonutil import dumps_str

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
# What we echo of a client's X-Request-ID: short, printable, nothing a log or header parser
# could trip on. Anything else is replaced by a generated id.
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def accept_request_id(header: str | None) -> str:
    """The client's X-Request-ID if it is 1-128 chars of [A-Za-z0-9._:-], else a new one."""
    if header and _CLIENT_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class FrameRequestIds:
    """Request ids for the frames of one WebSocket: `<connection's id>.<n>`. Create it while
    the connection's id is current; `next()` makes the next frame's id current."""

    def __init__(self) -> None:
        self.base = REQUEST_ID.get() or uuid.uuid4().hex
        self.count = 0

    def next(self) -> str:
        self.count += 1
        request_id = f"{self.base}.{self.count}"
        REQUEST_ID.set(request_id)
        return request_id


_SECRET_KEYS = {"password", "token", "access_token", "refresh_token", "ticket", "content", "authorization"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = "[redacted]" if key.lower() in _SECRET_KEYS else value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return dumps_str({k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v) for k, v in entry.items()})


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Hypercorn's access log prints query strings (tickets): keep it off.
    logging.getLogger("hypercorn.access").disabled = True
