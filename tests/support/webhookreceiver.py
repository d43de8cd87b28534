"""A webhook receiver as a bot's owner would write one, run as its own process on loopback
(`python -m tests.support.webhookreceiver --port P --secret S --log FILE`).

It checks each POST as the contract tells receivers to: the signature (HMAC-SHA256 over
"<t>.<raw body>" with the webhook secret), a `t` no older than 5 minutes, the delivery and
attempt headers; it answers 400 to a POST that fails a check. Every POST it accepts is
appended to the log file (one JSON line: delivery id, attempt, status answered, events),
which outlives the process, so a test can stop it ("down") and start it again.

`POST /_control {"status": 500, "delay": 9}` sets what later POSTs get (status, and seconds
to wait before answering); `GET /_health` answers once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

TOLERANCE = 300  # seconds: a receiver rejects an older `t`


def verify(secret: str, header: str, body: bytes, now: float) -> str | None:
    """Why the signature header is wrong, or None when it is right."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    if "t" not in parts or "v1" not in parts:
        return "no t or v1"
    if abs(now - int(parts["t"])) > TOLERANCE:
        return "t too old"
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(expected, parts["v1"]) else "bad signature"


def serve(port: int, secret: str, log: Path, host: str) -> None:
    mode: dict[str, Any] = {"status": 200, "delay": 0.0}

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        problem = verify(secret, request.headers.get("X-Messenger-Signature", ""), body, time.time())
        delivery, attempt = request.headers.get("X-Messenger-Delivery"), request.headers.get("X-Messenger-Attempt", "")
        if problem is None and (not delivery or not attempt.isdigit()):
            problem = "no delivery id or attempt"
        status = 400 if problem else int(mode["status"])
        if mode["delay"]:
            await asyncio.sleep(float(mode["delay"]))
        payload = json.loads(body) if not problem else None
        entry = {"delivery": delivery, "attempt": int(attempt or 0), "status": status, "problem": problem,
                 "bot_id": payload and payload["bot_id"], "events": payload and payload["events"], "at": time.time()}  # fmt: skip
        with log.open("a") as out:
            out.write(json.dumps(entry) + "\n")
        return web.Response(status=status, text=problem or "ok")

    async def control(request: web.Request) -> web.Response:
        mode.update(await request.json())
        return web.json_response(mode)

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_post("/_control", control)
    app.router.add_get("/_health", health)
    web.run_app(app, host=host, port=port, print=None, handle_signals=True)


@dataclass
class Receiver:
    """The receiver process as tests drive it."""

    port: int
    secret: str
    log: Path
    host: str = "127.0.0.2"  # the test cluster's WEBHOOK_ALLOWED_NETWORKS; 127.0.0.1 stays refused
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hook"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.webhookreceiver", "--port", str(self.port), "--secret", self.secret,
             "--log", str(self.log), "--host", self.host],
            cwd=Path(__file__).parents[2], env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://{self.host}:{self.port}/_health", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("webhook receiver did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)

    def set(self, **mode: Any) -> None:
        httpx.post(f"http://{self.host}:{self.port}/_control", json=mode, timeout=5).raise_for_status()

    def entries(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def accepted_events(self) -> list[dict[str, Any]]:
        """Events of the POSTs answered 2xx, in arrival order."""
        return [event for entry in self.entries() if 200 <= entry["status"] < 300 for event in entry["events"]]

    def problems(self) -> list[str]:
        return [entry["problem"] for entry in self.entries() if entry["problem"]]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.2")
    args = parser.parse_args()
    serve(args.port, args.secret, args.log, args.host)


async def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """`check()`'s first truthy value, polled every 0.1 s; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)
