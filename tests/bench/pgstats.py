"""PostgreSQL's own account of a scenario: the statements that took its time, from
pg_stat_statements, reset before the load and read once it has drained.

Only where the server preloads the extension (`shared_preload_libraries =
'pg_stat_statements'`); elsewhere (the embedded pgserver, a server without it) the report
says so and the bench runs as before."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from tests.support.databases import asyncpg_url

TOP = 8


async def _call(database_url: str, work: str) -> Any:
    conn = await asyncpg.connect(asyncpg_url(database_url))
    try:
        if work == "reset":
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            await conn.execute("SELECT pg_stat_statements_reset()")
            return None
        rows = await conn.fetch(
            """SELECT calls, total_exec_time, mean_exec_time, rows, query FROM pg_stat_statements
               WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
               ORDER BY total_exec_time DESC LIMIT $1""",
            TOP,
        )
        return [dict(row) for row in rows]
    finally:
        await conn.close()


def reset(database_url: str) -> str | None:
    """Start counting afresh; the reason when the server cannot count statements."""
    try:
        asyncio.run(_call(database_url, "reset"))
    except (OSError, asyncpg.PostgresError) as exc:
        return f"pg_stat_statements unavailable: {exc}"
    return None


def top(database_url: str) -> list[dict[str, Any]]:
    """The statements with the most execution time since reset, heaviest first."""
    return list(asyncio.run(_call(database_url, "top")))


def table(statements: list[dict[str, Any]]) -> str:
    out = ["| calls | total s | mean ms | rows | statement (start) |", "|---|---|---|---|---|"]
    for s in statements:
        query = " ".join(str(s["query"]).split())[:140].replace("|", "\\|")
        out.append(
            f"| {s['calls']} | {s['total_exec_time'] / 1000:.1f} | {s['mean_exec_time']:.2f} | {s['rows']} | `{query}` |"
        )
    return "\n".join(out)
