"""The scenarios: what one run of the load generator does, and the named presets.

`all` (what `make bench` runs) is the Targets table of issue 13, in its order. Durations
(sending time; setup, connect and drain come on top), chosen so that the whole set takes
about 24 minutes on a 2-core machine:

    seq      one pair, 300 sequential sends (20 ms apart)           ~10 s per target
    a20      500 msg/s × 30 s over 20 pairs
    a        500 msg/s × 30 s over 50 pairs
    chat     300 msg/s × 20 s in one direct chat (one pair)
    b        1,500 msg/s × 60 s over 50 pairs
    group    1,000 members: connect all, then 1 msg/s × 10 s, then 5 msg/s × 10 s from 5 members
    d        2,000 devices reconnect at once, 20 events each (Messenger Core only: no backlog in the relay)
    c        5,000 idle sockets + 50 msg/s × 30 s over 10 pairs
    workers  1,500 msg/s × 20 s over 50 pairs with 1 worker, then with 2 workers (relay once)
    webhooks 300 msg/s × 20 s to one bot's webhook, then 500 msg/s × 20 s spread over 100 bots'
             webhooks (100 receivers); the relay runs the same load as pairs over WebSocket
    apis     1,500 msg/s × 20 s over 50 pairs with 1 API process, then with 2
             (`messenger api --workers 2`; relay once, beside the first)
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Scenario:
    name: str
    kind: str  # rate | reconnect | sequential | group | search | webhooks
    rate: float = 100.0
    duration: float = 10.0
    pairs: int = 50  # webhooks: bots, each in a direct chat with its own sender
    idle: int = 0
    reconnect: int = 0
    backlog: int = 20
    senders: int = 100
    drain: float = 5.0
    sends: int = 300  # sequential
    gap: float = 0.02  # sequential: seconds between one delivery and the next send
    members: int = 0  # group
    phases: list[list[float]] = field(default_factory=lambda: [[1, 10], [5, 10]])  # group: [rate, seconds]
    group_senders: int = 5  # group: members that send, in turn
    connect_concurrency: int = 64  # group: handshakes in flight
    workers: int = 1  # `messenger worker` processes during this scenario
    api_workers: int = 1  # API processes during this scenario (`messenger api --workers N` when > 1)
    relay: bool = True  # also run it against the relay (when the relay can do it)
    goal: str = ""  # issue 13's Targets key (tests/bench/summary.py), "" for none


def _group(name: str, members: int, phases: list[list[float]], **kw: object) -> Scenario:
    return Scenario(name, "group", members=members, phases=phases, drain=10.0, goal="group", **kw)  # type: ignore[arg-type]


PRESETS: dict[str, list[Scenario]] = {
    "quick": [
        Scenario("quick: rate 100 × 10 s, 20 pairs", "rate", rate=100, duration=10, pairs=20),
        Scenario("quick: idle 500 + rate 50 × 10 s", "rate", rate=50, duration=10, pairs=10, idle=500),
        Scenario("quick: reconnect 200 × 20", "reconnect", reconnect=200, backlog=20, senders=20),
    ],
    "seq": [Scenario("1: one pair, 300 sequential sends", "sequential", sends=300, goal="seq")],
    "a20": [Scenario("2: rate 500 × 30 s, 20 pairs", "rate", rate=500, duration=30, pairs=20, goal="rate500")],
    "a": [Scenario("2: rate 500 × 30 s, 50 pairs", "rate", rate=500, duration=30, pairs=50, goal="rate500")],
    "chat": [Scenario("3: one chat, rate 300 × 20 s", "rate", rate=300, duration=20, pairs=1, goal="chat300")],
    "b": [Scenario("4: rate 1500 × 60 s, 50 pairs", "rate", rate=1500, duration=60, pairs=50, goal="rate1500")],
    "group": [_group("5: group of 1000, 1 then 5 msg/s × 10 s", 1000, [[1, 10], [5, 10]])],
    "d": [Scenario("6: reconnect 2000 × 20", "reconnect", reconnect=2000, backlog=20, senders=100, goal="storm")],
    "c": [Scenario("7: idle 5000 + rate 50 × 30 s, 10 pairs", "rate", rate=50, duration=30, pairs=10, idle=5000,
                   goal="idle")],
    "workers": [
        Scenario("8: 1 worker, rate 1500 × 20 s, 50 pairs", "rate", rate=1500, duration=20, pairs=50, workers=1,
                 goal="workers"),
        Scenario("8: 2 workers, rate 1500 × 20 s, 50 pairs", "rate", rate=1500, duration=20, pairs=50, workers=2,
                 relay=False, goal="workers"),
    ],
    "apis": [
        Scenario("11: 1 API process, rate 1500 × 20 s, 50 pairs", "rate", rate=1500, duration=20, pairs=50,
                 api_workers=1, goal="apis"),
        Scenario("11: 2 API processes, rate 1500 × 20 s, 50 pairs", "rate", rate=1500, duration=20, pairs=50,
                 api_workers=2, relay=False, goal="apis"),
    ],
    "webhooks": [
        Scenario("10: webhooks, 1 bot, rate 300 × 20 s", "webhooks", rate=300, duration=20, pairs=1, drain=10.0,
                 goal="webhooks"),
        Scenario("10: webhooks, 100 bots, rate 500 × 20 s", "webhooks", rate=500, duration=20, pairs=100, drain=10.0,
                 goal="webhooks"),
    ],
    "search": [Scenario("9: search, 1,000,000 messages in 1,000 chats, a user in 50", "search", relay=False)],
}
# Tiny versions of every scenario above, to check the bench itself in a few minutes; their
# loads are not the targets' loads, so the rate rows get no verdict.
PRESETS["smoke"] = [
    Scenario("smoke 1: one pair, 50 sequential sends", "sequential", sends=50, goal="seq"),
    Scenario("smoke 2: rate 200 × 3 s, 20 pairs", "rate", rate=200, duration=3, pairs=20, goal="rate"),
    Scenario("smoke 3: one chat, rate 100 × 3 s", "rate", rate=100, duration=3, pairs=1, goal="rate"),
    _group("smoke 5: group of 100, 1 then 5 msg/s × 3 s", 100, [[1, 3], [5, 3]]),
    Scenario("smoke 6: reconnect 200 × 20", "reconnect", reconnect=200, backlog=20, senders=20, goal="storm"),
    Scenario("smoke 7: idle 500 + rate 50 × 3 s, 10 pairs", "rate", rate=50, duration=3, pairs=10, idle=500,
             goal="idle"),
    Scenario("smoke 8: 1 worker, rate 300 × 3 s, 20 pairs", "rate", rate=300, duration=3, pairs=20, workers=1,
             goal="workers"),
    Scenario("smoke 8: 2 workers, rate 300 × 3 s, 20 pairs", "rate", rate=300, duration=3, pairs=20, workers=2,
             relay=False, goal="workers"),
    Scenario("smoke 10: webhooks, 1 bot, rate 100 × 3 s", "webhooks", rate=100, duration=3, pairs=1, drain=10.0,
             goal="webhooks"),
    Scenario("smoke 10: webhooks, 100 bots, rate 200 × 3 s", "webhooks", rate=200, duration=3, pairs=100,
             drain=10.0, goal="webhooks"),
    Scenario("smoke 11: 2 API processes, rate 300 × 3 s, 20 pairs", "rate", rate=300, duration=3, pairs=20,
             api_workers=2, relay=False, goal="apis"),
]
# Search last: after its 1,000,000 seeded rows PostgreSQL worked harder in the rows that
# followed (1-bot webhooks: 2.23 ms of PostgreSQL CPU per message after search, 1.79 before).
PRESETS["all"] = [s for key in ("seq", "a20", "a", "chat", "b", "group", "d", "c", "workers", "webhooks", "apis", "search")
                  for s in PRESETS[key]]
PRESET_HELP = (
    "seq = one pair, 300 sequential sends; a20/a = 500 msg/s × 30 s over 20/50 pairs; chat = 300 msg/s in one chat; "
    "b = 1500 msg/s × 60 s; group = 1000-member group; d = 2000 devices reconnecting with 20 events each; "
    "c = 5000 idle sockets; search = GET /messages/search over 1M messages; workers = 1 vs 2 workers at 1500 msg/s; apis = 1 vs 2 API processes (messenger api --workers 2) at 1500 msg/s; webhooks = events/s to 1 and to 100 bots' webhooks; quick = small versions; smoke = tiny versions of all (checks the bench); all = issue 13's table"
)
