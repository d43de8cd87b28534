"""Outbox to inbox: the worker's side of delivery, and rendering inbox events as frames.

`drain_outbox` turns committed outbox records into per-user inbox events and deletes the
records in one transaction, under a lock that admits one drainer at a time. Running it twice,
or on two workers at once, creates nothing twice and skips no inbox_seq.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from app import metrics
from app.db import execute, fetch, transaction
from app.jsonutil import loads
from app.services.chats import render_chats
from app.services.messages_view import message_body
from app.storage import inbox as inbox_store
from app.storage import messages as message_store
from app.storage import outbox

DELIVERY_LOCK_KEY = 7_150_001  # pg advisory lock id held by the single active drainer
BATCH_LIMIT = 1000
MESSAGE_EVENTS = ("message", "message_edited", "message_deleted")


@dataclass
class Delivered:
    """Frames to publish per user after the commit, with the source commit times."""

    frames: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    records: int = 0


def _json(value: Any) -> Any:
    return loads(value) if isinstance(value, (str, bytes)) else value


async def drain_outbox(limit: int = BATCH_LIMIT) -> Delivered:
    result = Delivered()
    async with transaction() as conn:
        await execute("SELECT pg_advisory_xact_lock($1)", DELIVERY_LOCK_KEY, conn=conn)
        batch = await outbox.take_batch(limit, conn)
        if not batch:
            return result
        member_chats = [r["chat_id"] for r in batch if r["user_ids"] is None]
        members: dict[int, list[int]] = defaultdict(list)
        if member_chats:
            for row in await fetch(
                "SELECT chat_id, user_id FROM chat_members WHERE chat_id = ANY($1::bigint[]) ORDER BY user_id",
                member_chats,
                conn=conn,
            ):
                members[row["chat_id"]].append(row["user_id"])
        events: list[dict[str, Any]] = []
        for record in batch:
            user_ids = _json(record["user_ids"])
            payload = _json(record["payload"])
            recipients = user_ids if user_ids is not None else members[record["chat_id"]]
            for user_id in dict.fromkeys(recipients):
                events.append(
                    {
                        "user_id": user_id,
                        "type": record["type"],
                        "chat_id": record["chat_id"],
                        "message_id": payload.get("message_id"),
                        "payload": None if "message_id" in payload else payload,
                        "committed_at": float(record["committed_at"]),
                    }
                )
        if events:
            first = await inbox_store.allocate_seqs(Counter(e["user_id"] for e in events), conn)
            events = [e for e in events if e["user_id"] in first]  # users deleted meanwhile
            for event in events:
                event["inbox_seq"] = first[event["user_id"]]
                first[event["user_id"]] += 1
            await inbox_store.insert_events(events, conn)
        await outbox.delete_through([r["id"] for r in batch], conn)
    result.records = len(batch)
    metrics.DELIVERY_BATCH.observe(len(batch))
    for event_type, count in Counter(e["type"] for e in events).items():
        metrics.INBOX_EVENTS.labels(type=event_type).inc(count)
    for user_id, frame in zip([e["user_id"] for e in events], await render_events(events)):
        result.frames[user_id].append(frame)
    return result


async def render_events(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Inbox rows to contract frames, rendering messages and chats in their current state.

    Each frame carries `committed_at` (epoch seconds) for latency metrics; the gateway strips
    it before writing to the device.
    """
    message_ids = list({r["message_id"] for r in rows if r["message_id"] is not None})
    messages = {m["id"]: message_body(m) for m in await message_store.get_messages(message_ids)} if message_ids else {}
    chat_pairs = list({(r["chat_id"], r["user_id"]) for r in rows if r["type"] == "chat_updated"})
    chats = await render_chats(chat_pairs) if chat_pairs else {}
    frames = []
    for row in rows:
        data: dict[str, Any] = {"inbox_seq": row["inbox_seq"]}
        if row["type"] in MESSAGE_EVENTS:
            data["message"] = messages.get(row["message_id"])
        elif row["type"] == "chat_updated":
            data["chat"] = chats.get((row["chat_id"], row["user_id"]))
        else:
            data.update(_json(row["payload"]) or {})
        frames.append({"type": row["type"], "data": data, "committed_at": row["committed_at"]})
    return frames


@dataclass
class Replay:
    frames: list[dict[str, Any]]
    resync_to: int | None  # set when the cursor is older than the retained inbox
    complete: bool  # False when more events remain after these


async def replay(*, user_id: int, after_seq: int, limit: int) -> Replay:
    """Events after a device's cursor, in order, for the offline flush."""
    # The counter is read before the events: events up to it were committed with it, so an
    # empty read below it means pruned, never "committed a moment later" (a false resync).
    last = await inbox_store.last_seq(user_id)
    rows = await inbox_store.events_after(user_id, after_seq, limit)
    if (rows and rows[0]["inbox_seq"] > after_seq + 1) or (not rows and last > after_seq):
        return Replay(frames=[], resync_to=max(last, rows[-1]["inbox_seq"] if rows else 0), complete=True)
    frames = await render_events(rows)
    return Replay(frames=frames, resync_to=None, complete=len(rows) < limit)
