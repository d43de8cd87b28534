"""The system under test, started fresh for one bench invocation.

- PostgreSQL: a new database `mc_bench_<random>` on the server of DATABASE_URL (default
  postgres://postgres@127.0.0.1:5432/test), migrated, dropped at the end.
- Redis: REDIS_URL (default redis://127.0.0.1:6379/7), FLUSHDB first.
- Neither env var set and the defaults do not answer: embedded servers under .data/bench.
- One `messenger api` (`--workers N` on demand: `System.scale_api`), one `messenger worker`
  (more on demand: `System.scale_workers`), one
  relay (tests/bench/relay.py), each with its own log file, RLIMIT_NOFILE raised to the hard
  limit (the API holds thousands of sockets). Webhooks may go to plain http on 127.0.0.0/8
  (the webhooks scenario's receivers).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis

from tests.bench.meters import descendants, proc_table
from tests.bench.servers import PrivateRedis, Server, log, redis_answers, spawn, wait_ready
from tests.support.databases import asyncpg_url, create_database, drop_database
from tests.support.processes import ROOT, free_port

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/7"
SECRET_KEY = "bench-secret-key-" + "x" * 32


def _pg_answers(url: str) -> bool:
    async def check() -> None:
        conn = await asyncpg.connect(asyncpg_url(url), timeout=3)
        await conn.close()

    try:
        asyncio.run(check())
        return True
    except Exception:  # noqa: BLE001
        return False


@functools.cache
def api_workers_supported() -> bool:
    """Whether this checkout's `messenger api` takes `--workers N` (its --help says so)."""
    try:
        out = subprocess.run([sys.executable, "-m", "app.cli", "api", "--help"], cwd=ROOT, capture_output=True,
                             text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "--workers" in out


def _foreign_channels(url: str) -> list[str]:
    try:
        client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
        try:
            channels = client.pubsub_channels("mc:*") + client.pubsub_channels("bench:*")
        finally:
            client.close()
    except Exception:  # noqa: BLE001
        return []
    return sorted(c.decode() if isinstance(c, bytes) else str(c) for c in channels)


@dataclass
class System:
    admin_url: str
    database_url: str
    redis_url: str
    db_name: str
    log_dir: Path
    embedded: Any = None
    private_redis: PrivateRedis | None = None
    api: Server | None = None
    worker: Server | None = None
    extra_workers: list[Server] = field(default_factory=list)  # worker2, worker3, ... (scale_workers)
    relay: Server | None = None
    env: dict[str, str] = field(default_factory=dict)
    db_pool: int | None = None
    api_processes: int = 1  # `messenger api --workers N` (scale_api)
    redis_pid_cache: int | None = None  # tests/bench/cpu.py: cpu_tally (0: not on this machine)
    postmaster_cache: int = 0

    @classmethod
    def start(cls, log_dir: Path, *, relay: bool = True, redis_mode: str = "auto", db_pool: int | None = None) -> System:
        database_url = os.environ.get("DATABASE_URL")
        redis_url = os.environ.get("REDIS_URL")
        embedded = None
        if not database_url and not _pg_answers(DEFAULT_DATABASE_URL):
            database_url = None
        else:
            database_url = database_url or DEFAULT_DATABASE_URL
        if not redis_url and not redis_answers(DEFAULT_REDIS_URL):
            redis_url = None
        else:
            redis_url = redis_url or DEFAULT_REDIS_URL
        if redis_url is not None and redis_mode != "shared":
            # Pub/sub channels are server-wide, whatever the database number: another cluster
            # on this Redis server would receive our events (mc:user:<id>) and we theirs.
            busy = _foreign_channels(redis_url)
            if redis_mode == "private" or busy:
                if busy:
                    log(f"{redis_url}: other clients are subscribed to {busy[:5]} (pub/sub ignores the db number); "
                        "using a private Redis instead (--redis-mode shared to override)")
                redis_url = None
        private_redis = None
        if redis_url is None:
            private_redis = PrivateRedis.start(log_dir)
            if private_redis is not None:
                redis_url = private_redis.url
        if database_url is None or redis_url is None:
            from app.embedded import start_embedded

            log("starting embedded", "PostgreSQL" if database_url is None else "", "Redis" if redis_url is None else "")
            embedded = start_embedded(ROOT / ".data" / "bench", postgres=database_url is None, redis=redis_url is None)
            database_url = database_url or embedded.database_url
            redis_url = redis_url or embedded.redis_url
        assert database_url and redis_url
        # The database is named and created in _prepare (its url is known from then on).
        system = cls(admin_url=database_url, database_url="", redis_url=redis_url, db_name="", log_dir=log_dir,
                     embedded=embedded, private_redis=private_redis)
        system.db_pool = db_pool
        try:
            system._prepare()
            system._start_servers(relay)
        except BaseException:
            system.stop()
            raise
        return system

    def _prepare(self) -> None:
        self.db_name, self.database_url = asyncio.run(create_database(self.admin_url, "mc_bench"))
        client = redis.Redis.from_url(self.redis_url)
        try:
            client.flushdb()
        finally:
            client.close()
        log(f"database {self.db_name} migrated; redis {self.redis_url} flushed")

    def _start_servers(self, relay: bool) -> None:
        server_db_url = self.database_url
        if self.db_pool:
            server_db_url += ("&" if "?" in server_db_url else "?") + f"maxsize={self.db_pool}"
        self.env = {
            "DATABASE_URL": server_db_url,
            "REDIS_URL": self.redis_url,
            "SECRET_KEY": SECRET_KEY,
            "BCRYPT_ROUNDS": "4",
            "RATE_LIMIT_MESSAGES": "1000000",
            "REGISTER_RATE_LIMIT": "1000000",  # every user registers from 127.0.0.1
            "LOG_LEVEL": "WARNING",
            "ACCESS_TOKEN_TTL": "7200",
            "PYTHONUNBUFFERED": "1",
            # Creating groups / adding members may be throttled per user (CHAT_RATE_LIMIT);
            # the group scenario adds 1,000 members in batches from one owner.
            "CHAT_RATE_LIMIT": "1000000",
            # The webhooks scenario's receivers listen on plain http on loopback, which the
            # server refuses unless told otherwise (tests/bench/receivers.py).
            "WEBHOOK_ALLOW_HTTP": "true",
            "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        }
        self.api = self._spawn_api(1)
        self.worker = self._spawn_worker("worker")
        servers = [self.api, self.worker]
        if relay:
            relay_port = free_port()
            self.relay = spawn("relay", ["-m", "tests.bench.relay", "--port", str(relay_port), "--redis", self.redis_url],
                               {"PYTHONUNBUFFERED": "1"}, relay_port, "/health", self.log_dir)
            servers.append(self.relay)
        for server in servers:
            wait_ready(server)
            log(f"{server.name} ready: pid {server.pid}, port {server.port}, log {server.log_path}")

    def _spawn_api(self, processes: int) -> Server:
        """`messenger api` on a free port with the bench's env; `--workers N` only when N > 1 (an
        API_WORKERS in the bench's own environment is overridden: the scenario says how many)."""
        port = free_port()
        args = ["-m", "app.cli", "api", "--port", str(port)] + (["--workers", str(processes)] if processes > 1 else [])
        env = {**self.env, "API_WORKERS": str(processes)}
        return spawn("api", args, env, port, "/ready", self.log_dir)

    def scale_api(self, processes: int) -> bool:
        """Run `messenger api` with exactly `processes` API processes (`--workers N`), restarting it
        when that changes; True when it did. Raises RuntimeError when this checkout's
        `messenger api` has no `--workers` (see api_workers_supported)."""
        processes = max(1, processes)
        if processes == self.api_processes and self.api is not None and self.api.alive():
            return False
        if processes > 1 and not api_workers_supported():
            raise RuntimeError("`messenger api --workers` is not in this checkout (app/cli.py): "
                               "the row with more than one API process is skipped")
        if self.api is not None:
            log(f"{self.api.name} stopped (exit {self.api.stop()}) to start {processes} API process(es)")
        self.api = self._spawn_api(processes)
        self.api_processes = processes
        wait_ready(self.api)
        if processes > 1:
            self._wait_api_children(processes)
        log(f"{self.api.name} ready: pid {self.api.pid} ({processes} processes), port {self.api.port}, "
            f"log {self.api.log_path}")
        return True

    def _wait_api_children(self, processes: int, timeout: float = 60.0) -> None:
        """Until every API child answers /ready: each new connection lands on one child (SO_REUSEPORT
        spreads them by address hash), so 8 fresh connections in a row answering means all are up."""
        assert self.api is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            children = descendants(self.api.pid, proc_table()) - {self.api.pid}
            if len(children) >= processes:
                try:
                    if all(httpx.get(self.api.base_url + "/ready", timeout=2).status_code == 200 for _ in range(8)):
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        raise RuntimeError(f"`messenger api --workers {processes}` did not have its processes ready in {timeout:g} s")

    def redis_pid(self) -> int | None:
        """The redis-server serving REDIS_URL (INFO server's process_id), when it runs on this machine."""
        if self.private_redis is not None:
            return self.private_redis.popen.pid
        try:
            client = redis.Redis.from_url(self.redis_url, socket_timeout=3)
            try:
                pid = int(client.info("server")["process_id"])
            finally:
                client.close()
        except Exception:  # noqa: BLE001
            return None
        return pid if os.path.exists(f"/proc/{pid}") else None

    def postgres_data_dir(self) -> str | None:
        """The PostgreSQL server's data directory (SHOW data_directory needs a superuser or
        pg_read_all_settings; None otherwise): where its postmaster.pid is."""
        async def query() -> str:
            conn = await asyncpg.connect(asyncpg_url(self.admin_url), timeout=5)
            try:
                return str(await conn.fetchval("SELECT current_setting('data_directory')"))
            finally:
                await conn.close()

        try:
            return asyncio.run(query())
        except Exception:  # noqa: BLE001
            return None

    def _spawn_worker(self, name: str) -> Server:
        metrics_port = free_port()
        return spawn(name, ["-m", "app.cli", "worker"], {**self.env, "WORKER_METRICS_PORT": str(metrics_port)},
                     metrics_port, "/metrics", self.log_dir)

    def workers(self) -> list[Server]:
        return [w for w in (self.worker, *self.extra_workers) if w is not None]

    def scale_workers(self, count: int) -> bool:
        """Run exactly `count` (>= 1) `messenger worker` processes; True when that changed anything."""
        count = max(1, count)
        changed = False
        while len(self.workers()) > count:
            server = self.extra_workers.pop()
            log(f"{server.name} stopped (exit {server.stop()})")
            changed = True
        while len(self.workers()) < count:
            server = self._spawn_worker(f"worker{len(self.workers()) + 1}")
            self.extra_workers.append(server)
            wait_ready(server)
            log(f"{server.name} ready: pid {server.pid}, port {server.port}, log {server.log_path}")
            changed = True
        return changed

    def servers(self) -> list[Server]:
        return [s for s in (self.api, self.worker, *self.extra_workers, self.relay) if s is not None]

    def stop(self) -> None:
        for server in self.servers():
            with contextlib.suppress(Exception):
                code = server.stop()
                log(f"{server.name} stopped (exit {code})")

        if self.db_name:
            try:
                asyncio.run(drop_database(self.admin_url, self.db_name))
                log(f"database {self.db_name} dropped")
            except Exception as exc:  # noqa: BLE001
                log(f"could not drop {self.db_name}: {exc!r}")
        if self.embedded is not None:
            with contextlib.suppress(Exception):
                self.embedded.stop()
        if self.private_redis is not None:
            self.private_redis.stop()
