"""Scenario `search`: GET /messages/search over 1,000,000 stored messages in 1,000 chats, for a
user who is a member of 50 of them (issue 17: p95 ≤ 50 ms).

The messages are written by SQL (generate_series), not sent: the scenario measures search, and
a million sends would take the bench an hour. The text mixes English and Russian words with a
Zipf-like spread, so the query set has a word in about a quarter of all messages, words of
every middle frequency, words a few hundred messages hold, prefixes of 1 to 4 letters, two
words together, and a word no message has. Each query is asked over all the user's chats
and, for some, in one chat (`chat_id`), and a second page is read through `next_cursor`.

Runs in-process against the bench's API (no load generator, no relay): sequential requests
on one keep-alive connection, so each latency is one request's whole time on the server.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import asyncpg
import httpx

# The head of the vocabulary: the words the queries ask for by name, most frequent first.
HEAD_WORDS = [
    "the", "и", "to", "в", "meeting", "встреча", "hello", "привет", "project", "проект", "deploy",
    "релиз", "coffee", "кофе", "tomorrow", "завтра", "review", "отчёт", "server", "сервер",
]  # fmt: skip
# The tail: three-syllable words, Latin and Cyrillic in turn (2,000 of them).
SEARCH_INDEX = "idx_messages_search_tsv"
LATIN = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "so"]
CYRILLIC = ["ка", "ло", "ми", "не", "ру", "та", "во", "зи", "пе", "со"]

def vocabulary() -> list[str]:
    tail = []
    for n in range(1000):
        a, b, c = n // 100, n // 10 % 10, n % 10
        tail += [LATIN[a] + LATIN[b] + LATIN[c], CYRILLIC[a] + CYRILLIC[b] + CYRILLIC[c]]
    return HEAD_WORDS + tail


async def seed(database_url: str, *, searcher_id: int, messages: int, chats: int, member_of: int) -> dict[str, Any]:
    """Write `chats` group chats (the searcher a member of the first `member_of`) and
    `messages` messages spread round-robin over them, newest last. The GIN index is dropped
    for the load and built once after it (much faster than maintaining it row by row)."""
    words = vocabulary()
    conn = await asyncpg.connect(database_url)
    started = time.perf_counter()
    try:
        await conn.execute("SET maintenance_work_mem = '256MB'")
        users = await conn.fetch(
            """INSERT INTO users (username, email, password_hash, is_active, created_at, inbox_seq)
               SELECT 'seed' || u, 'seed' || u || '@bench.invalid', 'x', TRUE, now(), 0
               FROM generate_series(1, 20) AS u RETURNING id"""
        )
        seed_ids = [row["id"] for row in users]
        first_chat = await conn.fetchval(
            """WITH c AS (
                 INSERT INTO chats (type, title, created_at, last_seq, last_activity_at)
                 SELECT 'group', 'bench ' || c, now() - interval '30 days', 0, now() FROM generate_series(1, $1) AS c
                 RETURNING id)
               SELECT min(id) FROM c""",
            chats,
        )
        # Two seed users in every chat (they send), the searcher in the first member_of.
        await conn.execute(
            """INSERT INTO chat_members (chat_id, user_id, role, joined_at, read_seq, delivered_seq)
               SELECT $1 + c, ($2::bigint[])[1 + c % 20], 'owner', now(), 0, 0 FROM generate_series(0, $3 - 1) AS c
               UNION ALL
               SELECT $1 + c, ($2::bigint[])[1 + (c + 1) % 20], 'member', now(), 0, 0 FROM generate_series(0, $3 - 1) AS c
               UNION ALL
               SELECT $1 + c, $4, 'member', now(), 0, 0 FROM generate_series(0, $5 - 1) AS c""",
            first_chat, seed_ids, chats, searcher_id, member_of,
        )  # fmt: skip
        # The migration's own definition, rebuilt after the load.
        index = await conn.fetchval("SELECT pg_get_indexdef($1::regclass)", SEARCH_INDEX)
        await conn.execute(f'DROP INDEX "{SEARCH_INDEX}"')
        # 4 to 12 words a message, word k drawn with P(index < k) = (k/n)^0.4 (a long tail).
        await conn.execute(
            """INSERT INTO messages (chat_id, seq, sender_id, content, created_at, is_deleted)
               SELECT $1 + g % $3, g / $3 + 1, ($2::bigint[])[1 + (g % $3 + g % 2) % 20],
                      (SELECT string_agg(($4::text[])[1 + floor(power(random(), 2.5) * cardinality($4::text[]))::int], ' ')
                       FROM generate_series(1, 4 + (g % 9)) AS i WHERE g >= 0),
                      now() - make_interval(secs => $5 - g), FALSE
               FROM generate_series(0, $5 - 1) AS g""",
            first_chat, seed_ids, chats, words, messages,
        )  # fmt: skip
        await conn.execute("UPDATE chats SET last_seq = (SELECT coalesce(max(seq), 0) FROM messages m WHERE m.chat_id = chats.id)")
        await conn.execute(index)
        await conn.execute("VACUUM ANALYZE messages")
        await conn.execute("ANALYZE chat_members")
        await conn.execute("ANALYZE chats")
    finally:
        await conn.close()
    return {"seed_s": round(time.perf_counter() - started, 1), "first_chat": first_chat}


MESSAGES, CHATS, MEMBER_OF = 1_000_000, 1_000, 50
ROUNDS = 6  # measured passes over the query set, after one warm-up pass
TARGET_P95_MS = 50.0

# (kind, q): what a user types; `chat` adds chat_id, `page2` reads the second page.
QUERIES: list[tuple[str, str]] = [
    ("frequent", "the"), ("frequent", "и"),
    ("prefix", "t"), ("prefix", "с"), ("prefix", "so"), ("prefix", "ка"), ("prefix", "kaka"), ("prefix", "meet"),
    ("prefix", "встре"),
    ("medium", "meeting"), ("medium", "кофе"), ("medium", "server"), ("medium", "сервер"), ("medium", "review"),
    ("rare", "sososo"), ("rare", "сососо"), ("rare", "nerumi"), ("rare", "неруми"),
    ("words", "deploy tomo"), ("words", "привет за"), ("words", "the meeting"),
    ("none", "zzzqx"), ("none", "щщщ"),
]  # fmt: skip
EXPLAINED = ["the", "кофе", "sososo", "so"]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def figures(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "n": len(values), "p50": round(statistics.median(values), 2), "p95": round(percentile(values, 95), 2),
        "p99": round(percentile(values, 99), 2), "max": round(max(values), 2),
    }  # fmt: skip


async def _register(http: httpx.AsyncClient) -> tuple[int, str]:
    body = {"username": "searcher", "email": "searcher@example.com", "password": "correct horse battery"}
    r = await http.post("/auth/register", json=body)
    r.raise_for_status()
    user_id = int(r.json()["id"])
    r = await http.post("/auth/login", json={"username": "searcher", "password": body["password"]})
    r.raise_for_status()
    return user_id, str(r.json()["access_token"])


async def _explain(database_url: str, user_id: int) -> dict[str, str]:
    """EXPLAIN ANALYZE of the service's own statement for a few words: execution time and
    which branch answered (the walk alone, or the GIN index too)."""
    from app.services.search import tsquery_of
    from app.storage.search import BEFORE_ALL, SEARCH_SQL

    conn = await asyncpg.connect(database_url)
    out: dict[str, str] = {}
    try:
        for q in EXPLAINED:
            lines = [r[0] for r in await conn.fetch(
                "EXPLAIN (ANALYZE, COSTS OFF) " + SEARCH_SQL, user_id, None, tsquery_of(q), BEFORE_ALL, 51,
                'HighlightAll=true, StartSel="<", StopSel=">"')]  # fmt: skip
            gin = next((line for line in lines if "idx_messages_search_tsv" in line), "")
            total = next(line for line in lines if line.startswith("Execution Time"))
            out[q] = f"{total.split(': ')[1]}; GIN index {'used: ' + gin.strip() if 'never executed' not in gin and gin else 'not reached'}"
    finally:
        await conn.close()
    return out


async def _measure(base_url: str, database_url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as http:
        user_id, token = await _register(http)
        seeded = await seed(database_url, searcher_id=user_id, messages=MESSAGES, chats=CHATS, member_of=MEMBER_OF)
        headers = {"Authorization": f"Bearer {token}"}
        one_chat = seeded["first_chat"] + 7

        async def ask(params: dict[str, Any]) -> tuple[float, dict[str, Any]]:
            t0 = time.perf_counter()
            r = await http.get("/messages/search", params=params, headers=headers)
            elapsed = (time.perf_counter() - t0) * 1000
            r.raise_for_status()
            return elapsed, r.json()

        by_kind: dict[str, list[float]] = {}
        found: dict[str, int] = {}
        for round_ in range(ROUNDS + 1):
            for kind, q in QUERIES:
                for label, params in ((kind, {"q": q}), ("one chat", {"q": q, "chat_id": one_chat})):
                    ms, body = await ask(params)
                    if round_:
                        by_kind.setdefault(label, []).append(ms)
                    if label == kind:
                        found[q] = len(body["items"])
                    if body["next_cursor"] and label == kind:
                        ms, _ = await ask({"q": q, "cursor": body["next_cursor"]})
                        if round_:
                            by_kind.setdefault("page 2", []).append(ms)
        everything = [ms for values in by_kind.values() for ms in values]
        result = {
            "overall": figures(everything),
            "by_kind": {kind: figures(values) for kind, values in by_kind.items()},
            "page_sizes": found,
            "explain": await _explain(database_url, user_id),
            "target_p95_ms": TARGET_P95_MS,
            **seeded,
        }
    return result


def run(system: Any, scenario: Any) -> dict[str, Any]:
    """The bench's entry (tests/bench/__main__.py): seed, measure, return the run's record."""
    from tests.bench.system import asyncpg_url, log

    assert system.api is not None
    log(f"--- {scenario.name}: seeding {MESSAGES:,} messages in {CHATS:,} chats by SQL")
    try:
        result = asyncio.run(_measure(system.api.base_url, asyncpg_url(system.database_url)))
    except Exception as exc:  # the record says what failed; the other scenarios still run
        result = {"error": repr(exc)}
    overall = result.get("overall", {})
    log(f"{scenario.name}: p50 {overall.get('p50')} ms, p95 {overall.get('p95')} ms "
        f"(target ≤ {TARGET_P95_MS:g} ms) over {overall.get('n')} requests; {result.get('error', '')}")  # fmt: skip
    return {"result": result, "server_alive": {s.name: s.alive() for s in system.servers()}}


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown section of the report: latency by kind of query, and the verdict."""
    out: list[str] = []
    for row in rows:
        result = row["messenger"]["result"]
        if "error" in result:
            out.append(f"{row['name']}: failed: {result['error']}")
            continue
        overall = result["overall"]
        verdict = "met" if overall["p95"] <= TARGET_P95_MS else "MISSED"
        out += [
            f"{row['name']}: seeded in {result['seed_s']} s. p95 {overall['p95']} ms over {overall['n']} requests "
            f"(target ≤ {TARGET_P95_MS:g} ms: {verdict}).",
            "",
            "| queries | n | p50 ms | p95 ms | p99 ms | max ms |",
            "|---|---|---|---|---|---|",
        ]
        for kind, f in [("all", overall), *result["by_kind"].items()]:
            out.append(f"| {kind} | {f['n']} | {f['p50']} | {f['p95']} | {f['p99']} | {f['max']} |")
        out += ["", "EXPLAIN ANALYZE of the search statement (all 50 chats, first page):", ""]
        out += [f"- `{q}`: {line}" for q, line in result["explain"].items()]
    return "\n".join(out)
