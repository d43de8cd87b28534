"""`messenger dev`: everything on one machine, from a fresh checkout.

1. Embedded PostgreSQL / Redis (app.embedded) for whichever of DATABASE_URL / REDIS_URL is
   unset, under DATA_DIR (default `.data/`).
2. SECRET_KEY from the environment, else generated once and kept in DATA_DIR/secret_key;
   the same for the Web Push VAPID key (DATA_DIR/vapid_private_key, VAPID_SUBJECT
   mailto:dev@localhost), and push targets on this machine are allowed
   (PUSH_ALLOW_PRIVATE_TARGETS, unless set) so a local push gateway works.
3. `messenger migrate` to completion (a failure stops everything).
4. A taken PORT or WORKER_METRICS_PORT (9100 is node_exporter's port on many hosts) is
   replaced by a free port, and we say which: dev never fails for a busy default port.
5. `messenger api` and `messenger worker` as child processes, until Ctrl-C / SIGTERM /
   SIGHUP or until either child exits. Then children get SIGTERM (SIGKILL after
   SHUTDOWN_TIMEOUT seconds), the embedded servers are stopped, and we exit.

Each child runs in its own process group, so a terminal's Ctrl-C reaches only this process,
which stops the children in order (API and worker first, then the servers they use).
Children also get SIGTERM from the kernel if this process is killed outright.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType

from app.config import Settings
from app.embedded import (  # load_or_create_secret: the dev signing key, mode 0600
    EmbeddedError,
    EmbeddedServers,
    child_preexec,
    load_or_create_secret,
    start_embedded,
)
from app.services.vapid import generate_private_key

SHUTDOWN_TIMEOUT = 15.0
DEV_VAPID_SUBJECT = "mailto:dev@localhost"
POLL_INTERVAL = 0.1
READY_TIMEOUT = 120.0
# How children are started: `<python> -m app.cli <subcommand> ...` (tests may swap it).
CHILD_COMMAND = [sys.executable, "-m", "app.cli"]


def _say(message: str) -> None:
    print(f"messenger dev: {message}", file=sys.stderr, flush=True)


class _Stop:
    """Signal bookkeeping: the first signal asks for a graceful stop, a second forces it."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.forced = False

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            _say(f"got {signal.Signals(signum).name}, shutting down (again to force)")
        else:
            self.forced = True

    @property
    def requested(self) -> bool:
        return self.signum is not None


class _Child:
    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            [*CHILD_COMMAND, *args],
            env=env,
            stdin=subprocess.DEVNULL,
            process_group=0,  # its own group: we signal it (and anything it spawns) ourselves
            preexec_fn=child_preexec(),  # noqa: PLW1509 - SIGTERM if we die
        )
        self.pgid = self.proc.pid

    def poll(self) -> int | None:
        return self.proc.poll()

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, sig)

    def group_alive(self) -> bool:
        if self.proc.poll() is None:
            return True
        try:
            os.killpg(self.pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True


def _stop_children(children: list[_Child], stop: _Stop, timeout: float = SHUTDOWN_TIMEOUT) -> None:
    for child in children:
        if child.group_alive():
            child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(c.group_alive() for c in children):
        if stop.forced or time.monotonic() >= deadline:
            for child in children:
                if child.group_alive():
                    _say(f"{child.name} did not stop in time: SIGKILL")
                    child.signal_group(signal.SIGKILL)
            break
        time.sleep(POLL_INTERVAL)
    for child in children:
        try:
            child.proc.wait(10)
        except subprocess.TimeoutExpired:
            child.proc.kill()
            child.proc.wait()


def _display_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - only for the printed address
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _bind_error(host: str, port: int) -> OSError | None:
    """Why host:port cannot be listened on now (None: it can), probed as http.server binds."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(infos[0][4])
    except OSError as exc:
        return exc
    return None


def available_port(host: str, port: int, setting: str) -> int:
    """`port` if it can be bound on host, else a free one, announced with the setting's name.
    Port 0 (the worker's metrics off) stays 0."""
    if port == 0 or _bind_error(host, port) is None:
        return port
    infos = socket.getaddrinfo(host or None, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    with socket.socket(infos[0][0], socket.SOCK_STREAM) as s:
        s.bind(infos[0][4])
        free = int(s.getsockname()[1])
    _say(f"port {port} ({setting}) is taken on {host}; using {free} instead")
    return free


def _is_ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(base_url + "ready", timeout=1.0) as resp:  # noqa: S310
            status: int = resp.status
            return status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def run_dev(settings: Settings) -> None:
    """Run the whole stack in the foreground until a signal or a child's exit; never leaves
    a process behind. Raises SystemExit(1) when something failed."""
    stop = _Stop()
    previous = {
        sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    runner = _DevRunner(settings, stop)
    try:
        exit_code = runner.run()
    finally:
        exit_code_cleanup = runner.cleanup()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    exit_code = exit_code or exit_code_cleanup
    if exit_code:
        raise SystemExit(exit_code)
    _say("stopped")


class _DevRunner:
    def __init__(self, settings: Settings, stop: _Stop) -> None:
        self.settings = settings
        self.stop = stop
        self.data_dir = Path(settings.data_dir).expanduser().resolve()
        self.servers: EmbeddedServers | None = None
        self.children: list[_Child] = []

    def run(self) -> int:
        settings, stop = self.settings, self.stop
        want_pg, want_redis = settings.database_url is None, settings.redis_url is None
        if want_pg or want_redis:
            names = [n for n, wanted in (("PostgreSQL", want_pg), ("Redis", want_redis)) if wanted]
            _say(f"starting embedded {' and '.join(names)} in {self.data_dir}")
        try:
            self.servers = start_embedded(self.data_dir, postgres=want_pg, redis=want_redis)
        except (EmbeddedError, OSError, subprocess.SubprocessError) as exc:
            _say(f"embedded servers failed to start: {exc}")
            return 1
        database_url = settings.database_url or self.servers.database_url
        redis_url = settings.redis_url or self.servers.redis_url
        assert database_url and redis_url
        secret_key = settings.secret_key or load_or_create_secret(self.data_dir / "secret_key")
        env = dict(os.environ)
        env.update(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            SECRET_KEY=secret_key,
            DATA_DIR=str(self.data_dir),
            PYTHONUNBUFFERED="1",
            VAPID_PRIVATE_KEY=settings.vapid_private_key or load_or_create_secret(self.data_dir / "vapid_private_key", generate_private_key),
            VAPID_SUBJECT=settings.vapid_subject or DEV_VAPID_SUBJECT,
        )
        if "push_allow_private_targets" not in settings.model_fields_set:
            env["PUSH_ALLOW_PRIVATE_TARGETS"] = "true"
        if stop.requested:
            return 0

        _say("applying migrations")
        migrate = _Child("migrate", ["migrate"], env)
        self.children = [migrate]
        while (code := migrate.poll()) is None and not stop.requested:
            time.sleep(POLL_INTERVAL)
        if stop.requested:
            return 0
        if code != 0:
            _say(f"migrations failed (exit code {code}); not starting the API")
            return 1

        host = settings.host
        port = available_port(host, settings.port, "PORT")
        metrics_port = available_port(settings.worker_metrics_host, settings.worker_metrics_port, "WORKER_METRICS_PORT")
        env["WORKER_METRICS_PORT"] = str(metrics_port)
        if metrics_port:
            _say(f"worker metrics on http://{_display_host(settings.worker_metrics_host)}:{metrics_port}/metrics")
        self.children = [
            _Child("api", ["api", "--host", host, "--port", str(port)], env),
            _Child("worker", ["worker"], env),
        ]
        base_url = f"http://{_display_host(host)}:{port}/"
        _say(f"API starting on {base_url} (docs: {base_url}docs); Ctrl-C to stop")
        announced = False
        started_at = time.monotonic()
        next_probe = 0.0
        while not stop.requested:
            dead = [(c, code) for c in self.children if (code := c.poll()) is not None]
            if dead:
                for child, code in dead:
                    _say(f"{child.name} exited with code {code}; stopping everything")
                return 1
            now = time.monotonic()
            if not announced and now >= next_probe:
                next_probe = now + 0.5
                if _is_ready(base_url):
                    announced = True
                    _say(f"ready: {base_url}  (API docs: {base_url}docs)")
                elif now - started_at > READY_TIMEOUT:
                    announced = True  # stop probing; the children keep running
                    _say(f"API not ready after {READY_TIMEOUT:.0f} s; still waiting on it")
            time.sleep(POLL_INTERVAL)
        return 0

    def cleanup(self) -> int:
        """Children first (they use the servers), then the embedded servers."""
        code = 0
        if any(c.group_alive() for c in self.children):
            _say("stopping " + " and ".join(c.name for c in self.children))
        if self.children:
            _stop_children(self.children, self.stop)
        if self.servers is not None and (self.servers.database_url or self.servers.redis_url):
            _say("stopping embedded servers")
        if self.servers is not None:
            try:
                self.servers.stop()
            except EmbeddedError as exc:
                _say(f"while stopping embedded servers: {exc}")
                code = 1
        return code
