"""Real `messenger api` / `messenger worker` processes for tests that go over sockets."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

ROOT = Path(__file__).resolve().parents[2]
LOG_DIR = ROOT / "test-artifacts" / "logs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ListeningProcess:
    """A child process serving HTTP and WebSocket on 127.0.0.1:port (tests' and bench's servers)."""

    popen: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (a graceful shutdown), SIGKILL after `timeout`: the exit code."""
        return stop_process(self.popen, timeout)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def stop_process(popen: subprocess.Popen[bytes], timeout: float = 15.0) -> int | None:
    """SIGTERM, then SIGKILL if it has not exited after `timeout` seconds: its exit code."""
    if popen.poll() is None:
        popen.terminate()
    try:
        return popen.wait(timeout)
    except subprocess.TimeoutExpired:
        popen.kill()
        return popen.wait(5)


@dataclass
class Proc(ListeningProcess):
    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log_path: Path
    env: dict[str, str] = field(repr=False, default_factory=dict)

    def signal(self, sig: int) -> None:
        if self.alive():
            self.popen.send_signal(sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.popen.wait(5)


def _spawn(name: str, args: list[str], env: dict[str, str], port: int) -> Proc:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{name}-{port}.log"
    log = open(log_path, "ab")
    popen = subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args], env={**os.environ, **env}, cwd=ROOT, stdout=log, stderr=log
    )
    log.close()
    return Proc(name=name, popen=popen, port=port, log_path=log_path, env=env)


class Waitable(Protocol):
    name: str

    @property
    def base_url(self) -> str: ...
    def alive(self) -> bool: ...
    def log_tail(self, lines: int = 30) -> str: ...


def wait_http(proc: Waitable, path: str, timeout: float = 30.0) -> None:
    """Poll until the process answers 200 on path; fail early, with its log, if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited early:\n{proc.log_tail()}")
        try:
            if httpx.get(f"{proc.base_url}{path}", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not answer {path} in {timeout}s:\n{proc.log_tail()}")


def start_api(env: dict[str, str], port: int | None = None) -> Proc:
    port = port or free_port()
    proc = _spawn("api", ["api", "--port", str(port)], env, port)
    wait_http(proc, "/ready")
    return proc


def start_worker(env: dict[str, str]) -> Proc:
    port = free_port()
    proc = _spawn("worker", ["worker"], {**env, "WORKER_METRICS_PORT": str(port)}, port)
    wait_http(proc, "/metrics")
    return proc
