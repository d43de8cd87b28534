"""The `messenger` command: migrate, api, worker, dev, admin."""

from __future__ import annotations

import argparse
import errno
import os
import sys

from app.config import ConfigError, Settings

ADMIN_ACTIONS = ("grant", "revoke", "deactivate", "reactivate")
_DONE = {
    "grant": "{name} is now a server administrator",
    "revoke": "{name} is no longer a server administrator",
    "deactivate": "{name} is deactivated: its sessions ended, its logins are refused until reactivated",
    "reactivate": "{name} is reactivated",
}


async def run_admin(settings: Settings, action: str, username: str) -> int:
    """`messenger admin grant|revoke|deactivate|reactivate USERNAME`: 0 when done, 1 for no
    such account (said on stderr)."""
    from arq.connections import RedisSettings, create_pool

    from app.db import close_db, init_db
    from app.errors import NotFound
    from app.services.registry import build_services

    assert settings.database_url and settings.redis_url
    await init_db(settings.database_url, 2)
    redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        admin = build_services(settings, redis).admin
        try:
            if action in ("grant", "revoke"):
                await admin.set_admin(username=username, is_admin=action == "grant")
            elif action == "deactivate":
                await admin.deactivate(admin_id=None, user_id=await admin.id_of(username=username))
            else:
                await admin.reactivate(user_id=await admin.id_of(username=username))
        except NotFound as exc:
            print(f"messenger: {exc.message}", file=sys.stderr)
            return 1
        print(_DONE[action].format(name=username))
        return 0
    finally:
        await redis.aclose()
        await close_db()


def api_workers(given: int | None) -> int:
    """`--workers`, else API_WORKERS (an environment variable, not a Settings field), else 1."""
    raw = str(given) if given is not None else os.environ.get("API_WORKERS", "1")
    try:
        workers = int(raw)
    except ValueError:
        workers = 0
    if workers < 1:
        raise ConfigError(f"API_WORKERS (--workers) must be a whole number of processes, at least 1: got {raw!r}")
    return workers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="messenger", description="Messenger Core")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations")
    api = sub.add_parser("api", help="serve the API (Hypercorn): one instance, or one per process with --workers")
    api.add_argument("--host", default=None)
    api.add_argument("--port", type=int, default=None)
    api.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes, each one API instance on the same host:port (default: API_WORKERS, else 1)",
    )
    sub.add_parser("worker", help="run one arq delivery worker")
    sub.add_parser("dev", help="embedded PostgreSQL/Redis when unset, migrate, API and worker")
    admin = sub.add_parser("admin", help="server administrators and account deactivation")
    admin.add_argument("action", choices=ADMIN_ACTIONS)
    admin.add_argument("username")
    args = parser.parse_args(argv)

    settings = Settings()
    try:
        if args.command == "dev":
            from app.devserver import run_dev

            run_dev(settings)
            return
        settings.require_runtime()
        if args.command == "migrate":
            from app.migrate import run_migrations

            run_migrations(settings)
        elif args.command == "api":
            from app.server import run_api

            host, port = args.host or settings.host, args.port or settings.port
            workers = api_workers(args.workers)
            try:
                run_api(settings, host=host, port=port, workers=workers)
            except OSError as exc:
                if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
                    raise
                raise ConfigError(
                    f"the API cannot listen on {host}:{port} ({exc.strerror}); "
                    "set PORT (or --port) to a free port, or HOST (--host) to another address"
                ) from None
        elif args.command == "worker":
            from workers.main import run_worker

            run_worker(settings)
        elif args.command == "admin":
            import asyncio

            sys.exit(asyncio.run(run_admin(settings, args.action, args.username)))
    except ConfigError as exc:
        print(f"messenger: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
