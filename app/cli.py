"""The `messenger` command: migrate, api, worker, dev."""

from __future__ import annotations

import argparse
import errno
import sys

from app.config import ConfigError, Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="messenger", description="Messenger Core")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations")
    api = sub.add_parser("api", help="serve one API instance (Hypercorn)")
    api.add_argument("--host", default=None)
    api.add_argument("--port", type=int, default=None)
    sub.add_parser("worker", help="run one arq delivery worker")
    sub.add_parser("dev", help="embedded PostgreSQL/Redis when unset, migrate, API and worker")
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
            try:
                run_api(settings, host=host, port=port)
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
    except ConfigError as exc:
        print(f"messenger: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
