"""Where a user's sockets are: which gateway instances to publish their events to.

A connection's id is `<instance id>.<random>`, and it is the member of the user's presence
set (keys.PRESENCE, scored by expiry) from the handshake's slot reservation on, that is
before the connection's replay is asked for. So a publisher that commits, then looks the
user up here, either finds the instance, or the connection started after the commit and its
replay (read from PostgreSQL) has the event. What a lost entry (a Redis wipe, a missed
refresh) costs is latency, not events: each gateway's reconcile loop sees the inbox head
past a connection's cursor and replays (app/realtime/node.py).

Publishing by instance, not by user, makes one pub/sub message per instance per drain
instead of one per recipient, and none at all for a user with no socket anywhere.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable

from redis.asyncio import Redis

from app import keys
from app.realtime.envelopes import Ephemeral, InboxEvents, InstanceBatch

SEPARATOR = "."


def connection_id(instance_id: str, local: str) -> str:
    return f"{instance_id}{SEPARATOR}{local}"


def instance_of(connection_id: str) -> str:
    return connection_id.split(SEPARATOR, 1)[0]


async def instances_of(redis: Redis, user_ids: Iterable[int]) -> dict[str, list[int]]:
    """instance id -> those of these users with a live socket there (one round trip)."""
    users = list(dict.fromkeys(user_ids))
    if not users:
        return {}
    now_ms = int(time.time() * 1000)
    async with redis.pipeline(transaction=False) as pipe:
        for user_id in users:
            pipe.zrangebyscore(keys.PRESENCE.format(user_id=user_id), now_ms, "+inf")
        found = await pipe.execute()
    routes: dict[str, list[int]] = defaultdict(list)
    for user_id, members in zip(users, found):
        for instance in {instance_of(m.decode() if isinstance(m, bytes) else m) for m in members}:
            routes[instance].append(user_id)
    return routes


async def publish_routed(redis: Redis, *, events: Iterable[InboxEvents] = (), ephemerals: Iterable[Ephemeral] = ()) -> int:
    """One `InstanceBatch` per instance holding any of the users named; the number published."""
    by_user_events = {e.user_id: e for e in events}
    by_user_ephemerals: dict[int, list[Ephemeral]] = defaultdict(list)
    for ephemeral in ephemerals:
        by_user_ephemerals[ephemeral.user_id].append(ephemeral)
    routes = await instances_of(redis, [*by_user_events, *by_user_ephemerals])
    if not routes:
        return 0
    channels = keys.Channels.of(redis)
    async with redis.pipeline(transaction=False) as pipe:
        for instance, user_ids in routes.items():
            batch = InstanceBatch(
                events=[by_user_events[u] for u in user_ids if u in by_user_events],
                ephemerals=[e for u in user_ids for e in by_user_ephemerals.get(u, ())],
            )
            pipe.publish(channels.instance(instance), batch.encode())
        await pipe.execute()
    return len(routes)
