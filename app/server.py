"""The app factory and `messenger api`: one Quart app served by Hypercorn, in this process or,
with `--workers N`, in N spawned processes that each are one API instance."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
import signal
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import uvloop
from arq.connections import RedisSettings, create_pool
from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from quart import Quart, Request, Response, g, request, websocket
from quart_schema import QuartSchema

from app import metrics
from app.api import (
    admin,
    attachments,
    auth,
    bots,
    chats,
    docs,
    errors,
    health,
    messages,
    moderation,
    push,
    scheduled,
    search,
    users,
)
from app.api.openapi import ContractOpenAPI
from app.clientaddr import client_address, parse_networks
from app.config import ConfigError, Settings
from app.db import close_db, init_db
from app.logs import REQUEST_ID, accept_request_id, setup_logging
from app.realtime.codes import Close
from app.realtime.node import Node
from app.services.gateway import GatewayHooks
from app.services.registry import build_services
from app.ws import endpoint as ws_endpoint

log = logging.getLogger(__name__)
# One line per HTTP request (method, route template, status, duration_ms, request_id).
access_log = logging.getLogger("app.access")

MAX_BODY = 1024 * 1024
MULTIPART_ENVELOPE = 64 * 1024  # headers and boundaries around an uploaded file
MAX_FRAME = 64 * 1024

# Security headers on every response. The web client (/, /static/) and everything else: its
# scripts, styles and connections come from this origin only (the WebSocket's ws:/wss: origin
# is named too: older browsers do not count it as 'self'); nobody may frame it.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:{media}; "
    "connect-src 'self'{ws}{media}; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI sets style attributes from its scripts, so /docs also allows inline styles.
_DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")


def content_security_policy(path: str, host: str, media_origin: str = "") -> str:
    """The page's policy. `blob:` images: attachments are fetched with the bearer token and
    shown through object URLs; `media_origin`: the S3 endpoint a download redirects to."""
    if path == "/docs" or path.startswith("/docs/"):
        return _DOCS_CSP
    ws = f" ws://{host} wss://{host}" if _HOST.match(host) else ""
    return _CSP.format(ws=ws, media=f" {media_origin}" if media_origin else "")


def media_origin(storage_url: str) -> str:
    """Where the browser fetches attachments from besides this API: the S3 endpoint's origin
    (presigned redirects), or nothing for the filesystem store."""
    parts = urlsplit(storage_url)
    if parts.scheme != "s3":
        return ""
    endpoint = parse_qs(parts.query).get("endpoint_url", [""])[-1]
    if not endpoint:
        return "https://*.amazonaws.com"
    origin = urlsplit(endpoint)
    return f"{origin.scheme}://{origin.netloc}" if origin.scheme in ("http", "https") and origin.netloc else ""


def upload_aware_request(upload_max_bytes: int) -> type[Request]:
    """Quart fixes a request's body limit when it creates the request, before any route runs:
    the upload route alone may carry a file (plus a multipart envelope); its service counts
    the file's bytes exactly and answers 413 past UPLOAD_MAX_BYTES."""
    limit = upload_max_bytes + MULTIPART_ENVELOPE

    class UploadAwareRequest(Request):
        def __init__(self, method: str, scheme: str, path: str, *args: Any, **kwargs: Any) -> None:
            if method == "POST" and path == attachments.UPLOAD_PATH:
                kwargs["max_content_length"] = limit
                kwargs["body_timeout"] = None  # a large file on a slow link may take minutes
            super().__init__(method, scheme, path, *args, **kwargs)

    return UploadAwareRequest


def check_settings(settings: Settings) -> None:
    """The settings `create_app` refuses (ConfigError), checked before anything starts."""
    settings.require_runtime()
    settings.require_push()
    try:
        parse_networks(settings.trusted_proxies)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def create_app(settings: Settings) -> Quart:
    check_settings(settings)
    app = Quart(__name__, static_folder="static", static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.request_class = upload_aware_request(settings.upload_max_bytes)
    media = media_origin(settings.media_url())
    # The web client must never run stale after a deploy: browsers revalidate every time.
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 0
    app.extensions["settings"] = settings
    app.config["RESPONSE_VALIDATION"] = settings.response_validation
    QuartSchema(
        app,
        info={"title": "Messenger Core", "version": "1"},
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path=None,  # app/api/docs.py serves Swagger UI from the app's own files
        security_schemes={"bearer": {"type": "http", "scheme": "bearer", "bearer_format": "JWT"}},
        # Each operation states its own security: bearer, or [] on the public routes.
        openapi_provider_class=ContractOpenAPI,
    )
    blueprints = (
        health.bp, docs.bp, auth.bp, users.bp, chats.bp, messages.bp, search.bp, attachments.bp, push.bp, bots.bp, admin.bp,
        moderation.bp, scheduled.bp, ws_endpoint.bp,
    )  # fmt: skip
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    errors.install(app)
    metrics.prime("api")

    @app.before_serving
    async def start() -> None:
        assert settings.database_url and settings.redis_url
        await init_db(settings.database_url, settings.db_pool_size)
        redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
        services = build_services(settings, redis)
        hooks = GatewayHooks(
            redis,
            sessions=services.sessions,
            presence=services.presence,
            receipts=services.receipts,
            large_group_size=settings.large_group_size,
        )
        node = Node(settings=settings, redis=redis, hooks=hooks)
        app.extensions.update(redis=redis, services=services, node=node)
        await node.start()

    @app.after_serving
    async def stop() -> None:
        node: Node = app.extensions["node"]
        await close_sockets(node)
        await node.stop()
        # The node's last ack flush may have committed receipts: let their hand-off to the
        # delivery workers finish before Redis closes (else only the retry sweep delivers them).
        await app.extensions["services"].dispatcher.drain()
        await app.extensions["services"].attachments.close()
        await app.extensions["redis"].aclose()
        await close_db()

    @app.before_request
    async def begin() -> None:
        g.started = time.perf_counter()
        g.request_id = accept_request_id(request.headers.get("X-Request-ID"))
        REQUEST_ID.set(g.request_id)  # every log line of this request carries it (app/logs.py)
        # The one place the client's address is worked out (rate limits, sessions, logs).
        g.client_ip = client_address(request.remote_addr, request.headers, settings.trusted_proxies)

    @app.before_websocket
    async def begin_websocket() -> None:
        # The connection's id; each frame then gets `<this>.<n>` (app/ws/endpoint.py).
        g.request_id = accept_request_id(websocket.headers.get("X-Request-ID"))
        REQUEST_ID.set(g.request_id)

    @app.after_request
    async def finish(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule else "unmatched"
        duration = time.perf_counter() - g.get("started", time.perf_counter())
        metrics.HTTP_DURATION.labels(method=request.method, route=route, status=str(response.status_code)).observe(duration)
        # The route template, never the path: no ids, query strings, tokens or tickets.
        access_log.info(
            "request",
            extra={"method": request.method, "route": route, "status": response.status_code, "duration_ms": round(duration * 1000, 2)},
        )
        response.headers["X-Request-ID"] = g.get("request_id", "")
        for name, value in _SECURITY_HEADERS.items():
            response.headers[name] = value
        response.headers["Content-Security-Policy"] = content_security_policy(request.path, request.host, media)
        return response

    return app


async def close_sockets(node: Node, timeout: float = 3.0) -> None:
    """Close every socket with 1001 so clients reconnect elsewhere at once; wait briefly."""
    node.close_all(Close.GOING_AWAY)
    deadline = time.monotonic() + timeout
    while node.hub.all() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def hypercorn_config(host: str, port: int) -> HypercornConfig:
    config = HypercornConfig()
    config.bind = [f"{host}:{port}"]
    config.websocket_max_message_size = MAX_FRAME  # Hypercorn closes with 1009 past it
    config.graceful_timeout = 5
    # Idle keep-alive connections stay open longer than clients and proxies keep them pooled
    # (nginx's upstream default is 60 s): a server closing first races the client's next
    # request on that connection, which then fails with no response (seen under a loaded CI
    # run at Hypercorn's default of 5 s).
    config.keep_alive_timeout = 75
    config.backlog = 4096  # a reconnect storm must not overflow the listen queue (default 100)
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")  # through our JSON handler
    return config


# CPython's full collections scan every tracked object, and each socket keeps a few hundred
# alive: at 5,000 sockets (1.2 M objects) each full collection stalled the event loop for 1 to
# 3 s while freeing a few dozen objects (a gc callback during make bench's idle scenario; send
# p99 2.5 s). Young collections every 10,000 allocations still reclaim per-frame cycles, and
# full ones come after 50 million allocations instead of during every connection ramp.
GC_THRESHOLDS = (10_000, 50, 100)


def run_api(settings: Settings, *, host: str, port: int, workers: int = 1) -> None:
    """`messenger api`: one instance in this process, or `workers` instances in child processes
    sharing host:port (`supervise`). An OSError binding host:port (taken) comes out of here,
    with N > 1 before any child starts; the CLI turns it into a ConfigError."""
    setup_logging(settings.log_level)
    if workers > 1:
        from app.supervisor import supervise  # noqa: PLC0415 - it runs this module's _serve in each child

        supervise(settings, host, port, workers)
        return
    gc.set_threshold(*GC_THRESHOLDS)
    uvloop.install()
    asyncio.run(_serve(settings, host, port))


async def _serve(settings: Settings, host: str, port: int, *, fd: int | None = None, parent: int | None = None) -> None:
    """One API instance until SIGTERM (or SIGINT): its sockets are closed with 1001, then
    Hypercorn stops. `fd`: serve on this inherited listening socket instead of binding host:port;
    `parent`: the supervisor's pid, whose SIGINT alone counts (a terminal's Ctrl+C reaches the
    whole process group) and whose death stops this instance too (no orphans left serving)."""
    app = create_app(settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()

    draining: set[asyncio.Task[None]] = set()  # a reference, so the task is not collected mid-run

    def on_signal() -> None:
        async def drain() -> None:
            if "node" in app.extensions:
                await close_sockets(app.extensions["node"])
            stopping.set()

        task = loop.create_task(drain())
        draining.add(task)
        task.add_done_callback(draining.discard)

    async def watch_parent(pid: int) -> None:
        while os.getppid() == pid:
            await asyncio.sleep(1.0)
        log.warning("api supervisor is gone: stopping", extra={"pid": os.getpid()})
        on_signal()

    for sig in (signal.SIGTERM,) if parent is not None else (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    watcher = loop.create_task(watch_parent(parent)) if parent is not None else None
    config = hypercorn_config(host, port)
    if fd is not None:
        config.bind = [f"fd://{fd}"]
    log.info("api listening", extra={"host": host, "port": port, "pid": os.getpid()})
    try:
        await serve(app, config, shutdown_trigger=stopping.wait)
    finally:
        if watcher is not None:
            watcher.cancel()
