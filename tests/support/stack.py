"""An isolated system for fault tests: its own database, its own Redis server process (which
a test may restart empty), and API/worker processes it can SIGKILL."""

from __future__ import annotations

import asyncio
import subprocess
import time
from dataclasses import dataclass, field

import redis

from app.embedded import redis_server_binary
from tests.support.databases import create_database, drop_database
from tests.support.processes import Proc, free_port, start_api, start_worker


class RedisServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(redis_server_binary()), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def restart_empty(self, down_for: float = 0.5) -> None:
        """SIGKILL and start again on the same port with nothing in it."""
        self.kill()
        time.sleep(down_for)
        self.start()


@dataclass
class Stack:
    database_url: str
    db_name: str
    admin_url: str
    redis: RedisServer
    env: dict[str, str]
    apis: list[Proc] = field(default_factory=list)
    workers: list[Proc] = field(default_factory=list)

    def add_api(self, **extra_env: str) -> Proc:
        proc = start_api({**self.env, **extra_env})
        self.apis.append(proc)
        return proc

    def add_worker(self, **extra_env: str) -> Proc:
        proc = start_worker({**self.env, **extra_env})
        self.workers.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.apis + self.workers:
            if proc.alive():
                proc.stop()
        self.redis.kill()


async def create_stack(admin_url: str, base_env: dict[str, str], *, locale: str | None = None, **env: str) -> Stack:
    name, database_url = await create_database(admin_url, "mc_stack", locale=locale)
    redis_server = RedisServer()
    redis_server.start()
    full_env = {**base_env, "DATABASE_URL": database_url, "REDIS_URL": redis_server.url, **env}
    return Stack(database_url=database_url, db_name=name, admin_url=admin_url, redis=redis_server, env=full_env)


async def drop_stack(stack: Stack) -> None:
    await asyncio.to_thread(stack.stop)
    await drop_database(stack.admin_url, stack.db_name)
