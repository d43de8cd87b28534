"""The models and migrations/ agree: on the session's database, migrated from migrations/,
Aerich finds no model change left to write. A model edited without its migration (or a
hand-written migration whose MODELS_STATE is stale) fails here, not at a user's next upgrade."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from aerich import Command

from app.config import tortoise_config
from app.migrate import migrations_dir


async def _pending_migration(database_url: str, location: Path) -> str | None:
    async with Command(tortoise_config(database_url), app="models", location=str(location)) as command:
        await command.init()
        return await command.migrate("drift", no_input=True)


def test_the_models_need_no_migration_that_migrations_does_not_have(backing, tmp_path: Path) -> None:
    # A copy: were there a change, Aerich would write its file here, not into the checkout.
    location = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), location)
    before = sorted(path.name for path in (location / "models").iterdir())

    written = asyncio.run(_pending_migration(backing.database_url, location))

    after = sorted(path.name for path in (location / "models").iterdir())
    assert written == "" and after == before, f"models changed without a migration: aerich wrote {written!r}"
