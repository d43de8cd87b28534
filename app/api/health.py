from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from quart import Blueprint, Response, current_app, send_from_directory
from quart_schema import hide, tag

from app import metrics
from app.api.responses import Status
from app.api.validation import responds
from app.db import fetchval
from app.errors import Unavailable

bp = Blueprint("health", __name__)

STATIC_DIR = Path(__file__).parents[1] / "static"


@bp.get("/health")
@tag(["operations"])
@responds(Status)
async def health() -> dict[str, Any]:
    return {"status": "ok"}


@bp.get("/ready")
@tag(["operations"])
@responds(Status)
async def ready() -> dict[str, Any]:
    """200 when PostgreSQL and Redis both answer within a second, else 503 `unavailable`."""
    redis = current_app.extensions["redis"]
    results = await asyncio.gather(
        asyncio.wait_for(fetchval("SELECT 1"), 1.0), asyncio.wait_for(redis.ping(), 1.0), return_exceptions=True
    )
    down = [name for name, r in zip(("postgres", "redis"), results) if isinstance(r, BaseException)]
    if down:
        for name in down:
            metrics.DEPENDENCY_ERRORS.labels(dependency=name, component="ready").inc()
        raise Unavailable(f"Not ready: {', '.join(down)} did not answer.", details={"down": down})
    return {"status": "ready"}


@bp.get("/metrics")
@hide
async def prometheus() -> Response:
    payload, content_type = metrics.render()
    return Response(payload, content_type=content_type)


@bp.get("/")
@hide
async def index() -> Response:
    return await send_from_directory(STATIC_DIR, "index.html")
