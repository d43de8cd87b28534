"""Outbox to inbox: the worker's side of delivery, and rendering inbox events as frames.

The outbox is split into partitions by chat (`dispatch.partition_of`). `drain_partitions`
turns some partitions' committed records into per-user inbox events and deletes the records in
one transaction, under those partitions' locks: one drainer per partition at a time, different
partitions on different workers at once (one worker's jobs drain together, workers/rounds.py).
Every event of a chat goes through the same partition in outbox order, so each member gets a
chat's events in the chat's order. Per-user inbox counters are locked in user-id order, so
concurrent partitions never deadlock, and they move inside the transaction, so a rollback
leaves no gap.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from app import metrics
from app.db import transaction
from app.jsonutil import loads
from app.services.chats import render_chats
from app.services.dispatch import partition_of
from app.services.views import hide_early_preview, message_body, reactions_body, viewer_independent
from app.storage import chats as chat_store
from app.storage import inbox as inbox_store
from app.storage import messages as message_store
from app.storage import outbox

BATCH_LIMIT = 1000
MESSAGE_EVENTS = ("message", "message_edited", "message_deleted")


@dataclass
class Delivered:
    """Frames to publish per user after the commit."""

    frames: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    records: int = 0
    by_partition: Counter[int] = field(default_factory=Counter)  # records taken of each partition
    # The batch was not full: every partition held is empty up to this transaction's snapshot
    # (a later commit wakes its partition's job again, app/services/dispatch.py).
    complete: bool = True
    # (user_id, chat_id, inbox_seq) of each new `message` event for someone other than its
    # sender: what a push may be due for (app/services/push.py `schedule`).
    pushable: list[tuple[int, int, int]] = field(default_factory=list)
    webhooks: list[int] = field(default_factory=list)  # bots with a webhook on that got events


def _json(value: Any) -> Any:
    return loads(value) if isinstance(value, (str, bytes)) else value


async def drain_partitions(
    wanted: list[int], partitions: int, limit: int = BATCH_LIMIT, *, wait: bool = True
) -> Delivered:
    """One batch of these partitions' records, oldest first, in one transaction. Without
    `wait`, partitions another drainer holds are left to it (nothing of theirs is taken)."""
    result = Delivered()
    async with transaction() as conn:
        held = await outbox.lock_partitions(wanted, conn=conn, wait=wait)
        if not held:
            return result
        batch = await outbox.take_batch(held=held, partitions=partitions, limit=limit, conn=conn)
        if not batch:
            return result
        events: list[dict[str, Any]] = []
        for record in batch:
            # Records without recipients go to the chat's members as they are now.
            user_ids = _json(record["user_ids"])
            payload = _json(record["payload"])
            recipients = user_ids if user_ids is not None else record["members"]
            for user_id in dict.fromkeys(recipients):
                events.append(
                    {
                        "user_id": user_id,
                        "type": record["type"],
                        "chat_id": record["chat_id"],
                        "message_id": payload.get("message_id"),
                        "payload": None if "message_id" in payload else payload,
                        "committed_at": float(record["committed_at"]),
                        "message": record["message"],
                    }
                )
        seqs, result.webhooks = await inbox_store.append_events(events, consumed=[r["id"] for r in batch], conn=conn)
        for event, seq in zip(events, seqs):
            event["inbox_seq"] = seq
        events = [e for e in events if e["inbox_seq"] is not None]  # users deleted meanwhile
    result.records = len(batch)
    result.by_partition.update(partition_of(record["chat_id"], partitions) for record in batch)
    result.complete = len(batch) < limit
    result.pushable = [
        (e["user_id"], e["chat_id"], e["inbox_seq"])
        for e in events
        if e["type"] == "message" and e["message"] is not None and e["message"]["sender_id"] != e["user_id"]
    ]
    metrics.DELIVERY_BATCH.observe(len(batch))
    for event_type, count in Counter(e["type"] for e in events).items():
        metrics.INBOX_EVENTS.labels(type=event_type).inc(count)
    # Message recipients were read in the transaction above, so every one is a member.
    for event, frame in zip(events, await render_events(events, members_known=True)):
        result.frames[event["user_id"]].append(frame)
    return result


async def render_events(rows: list[dict[str, Any]], *, members_known: bool = False) -> list[dict[str, Any]]:
    """Inbox rows to contract frames, rendering messages and chats in their current state.

    A user who is no longer a member of the event's chat gets `message: null` and
    `chat: {id, removed: true}`, exactly as REST answers 404 (a replay to a new device after
    leaving shows nothing of the chat). Rows may carry their message already (`message`,
    from the drain); others are read here. Each frame carries `committed_at` (epoch seconds)
    for latency metrics; the gateway strips it before writing to the device.
    """
    pairs = {(r["chat_id"], r["user_id"]) for r in rows if r["chat_id"] is not None}
    if members_known:
        current = {(r["chat_id"], r["user_id"]) for r in rows if r["type"] in MESSAGE_EVENTS}
        current |= await chat_store.member_pairs([p for p in pairs if p not in current])
    else:
        current = await chat_store.member_pairs(list(pairs))
    wanted = [r["message_id"] for r in rows if r["message_id"] is not None and r.get("message") is None]
    messages = {m["id"]: m for m in await message_store.get_messages(list(set(wanted)))} if wanted else {}
    chat_pairs = list({(r["chat_id"], r["user_id"]) for r in rows if r["type"] == "chat_updated"} & current)
    chats = await render_chats(chat_pairs) if chat_pairs else {}
    # A reply's preview hides a message from before a recipient joined a chat whose history is
    # hidden: asked only for the recipients of replies, which are few.
    replies = {
        (r["chat_id"], r["user_id"])
        for r in rows
        if r["type"] in MESSAGE_EVENTS and (source := _source(r, messages)) is not None and source["reply_to_id"] is not None
    }
    floors = await chat_store.hidden_floors(list(replies & current))
    bodies: dict[int, dict[str, Any]] = {}
    frames = []
    for row in rows:
        data: dict[str, Any] = {"inbox_seq": row["inbox_seq"]}
        member = (row["chat_id"], row["user_id"]) in current
        if row["type"] in MESSAGE_EVENTS:
            body = _body(row, messages, bodies) if member else None
            floor = floors.get((row["chat_id"], row["user_id"]), 0)
            # Bodies are shared between members (`_body`): a hidden preview gets a copy.
            if body and (reply_to := hide_early_preview(body["reply_to"], floor)) is not body["reply_to"]:
                body = {**body, "reply_to": reply_to}
            data["message"] = body
        elif row["type"] == "reactions":
            source = _source(row, messages) if member else None
            reactions = reactions_body(_json(source["reactions"]), row["user_id"]) if source else []
            data.update(chat_id=row["chat_id"], message_id=row["message_id"], reactions=reactions)
        elif row["type"] == "chat_updated":
            data["chat"] = chats.get((row["chat_id"], row["user_id"])) if member else {"id": row["chat_id"], "removed": True}
        else:
            data.update(_json(row["payload"]) or {})
        frames.append({"type": row["type"], "data": data, "committed_at": row["committed_at"]})
    return frames


def _source(row: dict[str, Any], read: dict[int, Any]) -> dict[str, Any] | None:
    return row.get("message") or read.get(row["message_id"])


def _body(row: dict[str, Any], read: dict[int, Any], bodies: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
    """One body per message however many members it goes to, unless its reactions make each
    member's body differ (`me`)."""
    message_id = row["message_id"]
    if message_id in bodies:
        return bodies[message_id]
    source = _source(row, read)
    if source is None:
        return None
    body = message_body(source, row["user_id"])
    if viewer_independent(source):
        bodies[message_id] = body
    return body


@dataclass
class Replay:
    frames: list[dict[str, Any]]
    resync_to: int | None  # set when the cursor is older than the retained inbox
    complete: bool  # False when more events remain after these


async def replay_many(requests: list[tuple[int, int, int]]) -> list[Replay]:
    """Events after each (user_id, after_seq, limit) device cursor, in order, for the offline
    flush; all of a batch in a fixed number of queries."""
    # The counters are read before the events: events up to a counter were committed with it,
    # so an empty read below it means pruned, never "committed a moment later" (a false resync).
    last = await inbox_store.last_seqs(list({user_id for user_id, _, _ in requests}))
    found = await inbox_store.events_after_many(requests)
    frames = iter(await render_events([row for rows in found for row in rows]))
    replays = []
    for (user_id, after_seq, limit), rows in zip(requests, found):
        own = [next(frames) for _ in rows]
        newest = last.get(user_id, 0)
        if (rows and rows[0]["inbox_seq"] > after_seq + 1) or (not rows and newest > after_seq):
            resync_to = max(newest, rows[-1]["inbox_seq"] if rows else 0)
            replays.append(Replay(frames=[], resync_to=resync_to, complete=True))
        else:
            replays.append(Replay(frames=own, resync_to=None, complete=len(rows) < limit))
    return replays
