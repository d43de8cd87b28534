"""`/docs`: Swagger UI over `/openapi.json`, served from the app's own files; and
`/asyncapi.json`, the WebSocket protocol (app/ws/asyncapi.py).

The Swagger UI distribution comes from the `flask-swagger-ui` wheel (its `dist/` folder,
Apache-2.0, licence file included); only those files are used, not its Flask blueprint. The
page has no inline script, so it runs under a Content-Security-Policy with `script-src 'self'`
(server.py sets the headers).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

from quart import Blueprint, Response, request, send_from_directory
from quart_schema import hide
from werkzeug.exceptions import NotFound

from app.ws import asyncapi

bp = Blueprint("docs", __name__)

ASSETS = "/docs/assets"
# The files the page uses; nothing else of the package is served.
_SERVED = {
    "swagger-ui.css", "index.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
    "favicon-32x32.png", "favicon-16x16.png", "LICENSE", "VERSION",
}  # fmt: skip

_PAGE = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Messenger Core API (Swagger UI)</title>
  <link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
  <link rel="stylesheet" href="{ASSETS}/index.css">
  <link rel="icon" type="image/png" href="{ASSETS}/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{ASSETS}/swagger-ui-bundle.js"></script>
  <script src="{ASSETS}/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
"""

_INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  layout: "BaseLayout",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  showExtensions: true,
  showCommonExtensions: true
});
"""


def swagger_dist() -> Path:
    """The installed Swagger UI files (found without importing the Flask blueprint)."""
    spec = importlib.util.find_spec("flask_swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the flask-swagger-ui package (Swagger UI's files) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "dist"


@bp.get("/docs")
@hide
async def swagger_ui() -> Response:
    return Response(_PAGE, content_type="text/html; charset=utf-8")


@bp.get("/docs/init.js")
@hide
async def swagger_init() -> Response:
    return Response(_INIT, content_type="text/javascript; charset=utf-8")


@bp.get(f"{ASSETS}/<name>")
@hide
async def swagger_asset(name: str) -> Response:
    if name not in _SERVED:
        raise NotFound()
    return await send_from_directory(swagger_dist(), name)


@lru_cache(maxsize=16)
def _asyncapi(host: str) -> dict[str, Any]:
    return asyncapi.document(host)


@bp.get("/asyncapi.json")
@hide
async def asyncapi_document() -> dict[str, Any]:
    return _asyncapi(request.host)
