"""`messenger migrate`: apply Aerich migrations to DATABASE_URL."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from aerich import Command

from app.config import Settings, tortoise_config

log = logging.getLogger(__name__)


def migrations_dir() -> Path:
    """`migrations/` of the checkout (editable install, tests) or of the working directory."""
    candidates = [Path(os.environ.get("MIGRATIONS_DIR", "migrations")), Path(__file__).parents[1] / "migrations"]
    for path in candidates:
        if (path / "models").is_dir():
            return path.resolve()
    raise FileNotFoundError("migrations/ not found; set MIGRATIONS_DIR")


async def migrate(database_url: str) -> list[str]:
    async with Command(tortoise_config(database_url), app="models", location=str(migrations_dir())) as command:
        await command.init()
        return await command.upgrade(run_in_transaction=True)


def run_migrations(settings: Settings) -> None:
    assert settings.database_url
    applied = asyncio.run(migrate(settings.database_url))
    print(f"migrations applied: {', '.join(applied) if applied else 'none (up to date)'}")
