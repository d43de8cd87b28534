"""Security headers on the web client and Swagger UI served from the
app's own files; the embedded dev Redis behind a generated password, with data readable by
its owner only."""

from __future__ import annotations

import os
import re
import socket
import stat
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from app.embedded import start_embedded
from tests.support.processes import ROOT


def csp(headers) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    policy: dict[str, list[str]] = {}
    for directive in headers["Content-Security-Policy"].split(";"):
        name, *values = directive.split()
        policy[name] = values
    return policy


# --- item 12 ----------------------------------------------------------------------------------
async def test_web_client_responses_carry_csp_nosniff_referrer_policy_and_refuse_framing(http, cluster):
    host = urlsplit(cluster.api.base_url).netloc
    # Every module the client loads (a service worker registers only from a JavaScript type).
    modules = tuple(f"/static/{path.name}" for path in sorted((ROOT / "app" / "static").glob("*.js")))
    assert "/static/sw.js" in modules and "/static/app.js" in modules
    for path in ("/", *modules, "/static/style.css", "/health", "/no-such-page"):
        r = await http.get(path)
        assert r.status_code in (200, 404), (path, r.status_code)
        if path in modules:
            # <script type="module"> and its imports load only with a JavaScript MIME type (nosniff).
            assert r.status_code == 200 and "javascript" in r.headers["content-type"], (path, r.headers)
        assert r.headers["X-Content-Type-Options"] == "nosniff", path
        assert r.headers["Referrer-Policy"] == "no-referrer", path
        assert r.headers["X-Frame-Options"] == "DENY", path
        policy = csp(r.headers)
        assert policy["script-src"] == ["'self'"], policy
        assert policy["connect-src"] == ["'self'", f"ws://{host}", f"wss://{host}"], policy
        assert policy["frame-ancestors"] == ["'none'"], policy
        assert policy["img-src"] == ["'self'", "data:", "blob:"], policy  # attachments via object URLs
        assert policy["default-src"] == ["'none'"] and policy["style-src"] == ["'self'"], policy
        assert "'unsafe-inline'" not in r.headers["Content-Security-Policy"]
    # The page itself has nothing inline that the policy would block.
    page = (await http.get("/")).text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline script in index.html"
    assert " style=" not in page and "<style" not in page


async def test_csp_names_no_websocket_origin_for_a_malformed_host(http):
    r = await http.get("/", headers={"Host": "evil.example'; script-src *"})
    assert "evil" not in r.headers["Content-Security-Policy"]
    assert csp(r.headers)["connect-src"] == ["'self'"]


async def test_docs_serves_swagger_ui_from_the_apps_own_files(http):
    r = await http.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "swagger-ui" in r.text
    refs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert refs and all(ref.startswith("/") and not ref.startswith("//") for ref in refs), refs
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text), "inline script in /docs"
    policy = csp(r.headers)
    assert policy["script-src"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"], policy
    assert r.headers["X-Frame-Options"] == "DENY"
    for ref in refs:
        asset = await http.get(ref)
        assert asset.status_code == 200, ref
        assert asset.headers["X-Content-Type-Options"] == "nosniff"
        if ref.endswith(".js"):
            assert "javascript" in asset.headers["content-type"], (ref, asset.headers["content-type"])
        if ref.endswith(".css"):
            assert asset.headers["content-type"].startswith("text/css"), ref
    bundle = await http.get("/docs/assets/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text[:200_000] or "SwaggerUIBundle" in bundle.text
    assert "/openapi.json" in (await http.get("/docs/init.js")).text
    assert "Apache" in (await http.get("/docs/assets/LICENSE")).text
    # Only the distribution's files, nothing else from disk.
    for path in ("/docs/assets/..%2Fflask_swagger_ui.py", "/docs/assets/oauth2-redirect.html", "/docs/assets/nope.js"):
        assert (await http.get(path)).status_code == 404, path
    # /docs and its files stay out of the API description.
    paths = (await http.get("/openapi.json")).json()["paths"]
    assert not any(p.startswith("/docs") for p in paths), list(paths)


# --- item 13 ----------------------------------------------------------------------------------
def _modes(root: Path) -> dict[str, int]:
    found = {}
    for directory, _dirs, files in os.walk(root):
        found[directory] = stat.S_IMODE(os.stat(directory).st_mode)
        for name in files:
            path = os.path.join(directory, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISREG(mode):
                found[path] = stat.S_IMODE(mode)
    return found


def _raw(port: int, command: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(command)
        return sock.recv(200)


@pytest.mark.timeout(60)
def test_embedded_redis_needs_its_generated_password_and_data_is_owner_only(tmp_path):
    data = tmp_path / "data"
    (data / "redis").mkdir(parents=True, mode=0o755)
    (data / "redis" / "old.log").write_text("left by an older version\n")
    os.chmod(data / "redis" / "old.log", 0o644)
    servers = start_embedded(data, postgres=False, redis=True)
    try:
        assert servers.redis_url
        url = urlsplit(servers.redis_url)
        password = (data / "redis_password").read_text().strip()
        assert url.password == password and len(password) >= 32 and url.hostname == "127.0.0.1"
        assert b"NOAUTH" in _raw(url.port, b"SET ticket stolen\r\n")
        assert b"WRONGPASS" in _raw(url.port, b"AUTH not-the-password\r\n")
        client = redis.Redis.from_url(servers.redis_url)
        client.set("mc:ticket:abc", "1:session")
        client.close()
        # The password is in a 0600 file, never on the command line.
        with open(f"/proc/{servers._redis.proc.pid}/cmdline", "rb") as fh:  # type: ignore[union-attr]
            assert password.encode() not in fh.read()
    finally:
        servers.stop()
    modes = _modes(data)
    assert str(data / "redis_password") in modes and any(p.endswith(".aof") for p in modes), modes
    wrong = {path: oct(mode) for path, mode in modes.items() if mode != (0o700 if os.path.isdir(path) else 0o600)}
    assert not wrong, wrong

    # A restart keeps the password and the data.
    again = start_embedded(data, postgres=False, redis=True)
    try:
        assert urlsplit(again.redis_url or "").password == password
        client = redis.Redis.from_url(again.redis_url or "")
        assert client.get("mc:ticket:abc") == b"1:session"
        client.close()
    finally:
        again.stop()


def test_with_s3_storage_the_page_may_fetch_from_the_s3_endpoint_only() -> None:
    from app.server import content_security_policy, media_origin

    origin = media_origin("s3://media?endpoint_url=http://127.0.0.1:9000/x&region=us-east-1")
    assert origin == "http://127.0.0.1:9000"
    policy = content_security_policy("/", "localhost:8000", origin)
    assert "connect-src 'self' ws://localhost:8000 wss://localhost:8000 http://127.0.0.1:9000;" in policy
    assert "img-src 'self' data: blob: http://127.0.0.1:9000;" in policy
    assert media_origin("s3://media?region=eu-west-1") == "https://*.amazonaws.com"
    assert media_origin("file:///srv/media") == ""
    assert media_origin("s3://media?endpoint_url=javascript:alert(1)") == ""
