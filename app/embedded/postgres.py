"""Embedded PostgreSQL (the `pgserver` wheel): PGDATA under the data directory, a unix socket
only (no TCP port), the `messenger` database created on first start."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

from app.embedded.processes import START_TIMEOUT, STOP_TIMEOUT, EmbeddedError, wait_or_kill

DATABASE_NAME = "messenger"
PG_USER = "postgres"


class EmbeddedPostgres:
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
        wait_or_kill(proc, first=signal.SIGQUIT)  # SIGQUIT = immediate shutdown
