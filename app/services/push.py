"""Push notifications (contract: Push notifications): subscriptions per device, the drain's
hand-off to a deferred arq `push` job, and what that job decides and sends.

The path: the delivery drain commits `message` inbox events, then `schedule` enqueues, for
each recipient that has a subscription (one Redis set, checked in one round trip per batch),
an arq `push` job deferred by PUSH_DELAY under the id `push:{user}:{chat}:{window}`, window
being now // PUSH_DELAY: a burst in one chat collapses into one job, and a message drained
while that job runs falls in a later window, so it gets a job of its own and is never lost.
When the job runs, `PushNotifier.notify` reads each subscribed device's cursor (devices.acked_seq)
and pushes, once per device and chat, the newest message event that device has not acked and
was not pushed to it before (a per-chat mark in Redis), so a device that acked in time gets
nothing and a burst gets one notification. Muted chats push only messages that mention the
user. A push service's 5xx or a timeout is retried by arq (Retry, backoff, at most 5 times);
404/410 (or a gateway's `rejected`) deletes the subscription.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from arq.connections import ArqRedis

from app import keys, metrics
from app.errors import NotFound, Unavailable, field_error
from app.outbound import Network, TargetRefused, check_target
from app.services.pushsend import Outcome, PushSender
from app.services.vapid import VapidKey
from app.storage import push as store

log = logging.getLogger(__name__)

MAX_RETRIES = 5  # the contract's "at most 5 times": 6 tries in all
RETRY_BASE = 1.0  # seconds before the first retry; doubles each time (1, 2, 4, 8, 16)
PREVIEW_CHARS = 120
SENT_MARK_TTL = 7 * 24 * 3600  # seconds a per-chat "pushed up to" mark outlives its last push


def _target_hash(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _b64url_bytes(value: str, field: str, size: int) -> None:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, TypeError):
        raise field_error(field, "Not URL-safe base64.") from None
    if len(raw) != size or (size == 65 and raw[0] != 4):
        raise field_error(field, f"Must decode to {size} bytes" + (" (an uncompressed P-256 point)." if size == 65 else "."))


def subscription_body(row: dict[str, Any]) -> dict[str, Any]:
    webpush = row["kind"] == "webpush"
    return {
        "id": row["id"],
        "device_id": row["device_id"],
        "kind": row["kind"],
        "endpoint": row["url"] if webpush else None,
        "url": None if webpush else row["url"],
        "app_id": row["app_id"],
        "pushkey": row["pushkey"],
        "created_at": row["created_at"],
    }


class PushService:
    """Subscriptions: the API's side. Keeps `mc:push:users` (who has any) in step with
    PostgreSQL so the drain can skip everyone else with one Redis round trip."""

    def __init__(self, redis: ArqRedis, *, vapid: VapidKey | None, allowed: Sequence[Network]) -> None:
        self._redis = redis
        self._vapid = vapid
        self._allowed = list(allowed)

    def public_key(self) -> str:
        if self._vapid is None:
            raise Unavailable("Web Push is not configured on this server (VAPID_PRIVATE_KEY).")
        return self._vapid.public_key

    async def subscribe(
        self,
        *,
        user_id: int,
        session_id: uuid.UUID,
        device_id: str,
        kind: Literal["webpush", "http"],
        url: str,
        p256dh: str | None = None,
        auth: str | None = None,
        app_id: str | None = None,
        pushkey: str | None = None,
    ) -> dict[str, Any]:
        """Register (or replace: same endpoint, or same app_id and pushkey) one device's
        subscription; the body of the stored row."""
        field = "endpoint" if kind == "webpush" else "url"
        try:
            await check_target(url, allowed=self._allowed)
        except TargetRefused as exc:
            raise field_error(field, str(exc)) from None
        if kind == "webpush":
            if self._vapid is None:
                raise Unavailable("Web Push is not configured on this server (VAPID_PRIVATE_KEY).")
            assert p256dh is not None and auth is not None
            _b64url_bytes(p256dh, "keys.p256dh", 65)
            _b64url_bytes(auth, "keys.auth", 16)
            target = _target_hash("webpush", url)
        else:
            assert app_id is not None and pushkey is not None
            target = _target_hash("http", app_id, pushkey)
        row = await store.upsert(
            {"user_id": user_id, "device_id": device_id, "kind": kind, "url": url, "p256dh": p256dh,
             "auth": auth, "app_id": app_id, "pushkey": pushkey, "target": target, "session_id": session_id}
        )  # fmt: skip
        await cast(Awaitable[int], self._redis.sadd(keys.PUSH_USERS, user_id))
        return subscription_body(row)

    async def list(self, *, user_id: int) -> list[dict[str, Any]]:
        return [subscription_body(row) for row in await store.list_for_user(user_id)]

    async def unsubscribe(self, *, user_id: int, subscription_id: int) -> None:
        """404 for anything that is not one of the caller's subscriptions."""
        if not await store.delete_own(user_id, subscription_id):
            raise NotFound("No such subscription.")
        await forget_if_none(self._redis, user_id)


async def forget_if_none(redis: ArqRedis, user_id: int) -> None:
    """Drop the user from `mc:push:users` when they have no subscription left. Removed first,
    then checked and added back: a subscribe racing with this (insert, then add) always ends
    with the user in the set."""
    await cast(Awaitable[int], redis.srem(keys.PUSH_USERS, user_id))
    if await store.has_any(user_id):
        await cast(Awaitable[int], redis.sadd(keys.PUSH_USERS, user_id))


async def _subscribed(redis: ArqRedis, user_ids: list[int]) -> set[int]:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.exists(keys.PUSH_USERS_LOADED)
        pipe.smismember(keys.PUSH_USERS, user_ids)
        loaded, flags = await pipe.execute()
    if loaded:
        return {user_id for user_id, flag in zip(user_ids, flags) if flag}
    # Redis restarted empty (or first start): PostgreSQL answers, and the set is rebuilt.
    found = set(await store.users_with_subscriptions(user_ids))
    everyone = await store.users_with_subscriptions()
    async with redis.pipeline(transaction=False) as pipe:
        if everyone:
            pipe.sadd(keys.PUSH_USERS, *everyone)
        pipe.set(keys.PUSH_USERS_LOADED, 1)
        await pipe.execute()
    return found


async def schedule(redis: ArqRedis, pushable: Sequence[tuple[int, int, int]], *, delay: float) -> int:
    """After a drain committed `message` events, given as (user_id, chat_id, inbox_seq) for
    recipients other than the sender: enqueue a deferred push job per subscribed (user,
    chat). Users without subscriptions cost nothing but their place in one SMISMEMBER.
    Returns the number of jobs enqueued (collapsed ones not counted)."""
    if not pushable:
        return 0
    subscribed = await _subscribed(redis, sorted({user_id for user_id, _, _ in pushable}))
    if not subscribed:
        return 0
    first: dict[tuple[int, int], int] = {}
    for user_id, chat_id, seq in pushable:
        if user_id in subscribed and (user_id, chat_id) not in first:
            first[(user_id, chat_id)] = seq
    window = int(time.time() // max(delay, 0.001))  # the job runs after its window ends
    jobs = await asyncio.gather(
        *(
            redis.enqueue_job(
                keys.PUSH_JOB,
                user_id,
                chat_id,
                seq,
                _job_id=keys.PUSH_JOB_ID.format(user_id=user_id, chat_id=chat_id, window=window),
                _defer_by=delay,
            )
            for (user_id, chat_id), seq in first.items()
        )
    )
    return sum(1 for job in jobs if job is not None)


@dataclass
class Notification:
    """One device's notification for one chat, in the terms both formats need."""

    chat_id: int
    chat_title: str | None
    message_id: int
    inbox_seq: int
    sender_id: int
    sender_name: str
    preview: str
    count: int  # the chat's messages this device has not acked, that this notification stands for
    badge: int
    mention: bool
    committed_at: float | None

    def webpush_payload(self, *, preview: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "message",
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "inbox_seq": self.inbox_seq,
            "count": self.count,
            "badge": self.badge,
            "mention": self.mention,
        }
        if preview:
            body.update(sender={"id": self.sender_id, "name": self.sender_name}, chat_title=self.chat_title, body=self.preview)
        return body

    def matrix_notification(self, device: dict[str, Any], *, preview: bool) -> dict[str, Any]:
        """The Matrix push gateway's `notification` (`/_matrix/push/v1/notify`); without a
        preview, Synapse's `event_id_only` shape (ids and counts, no text)."""
        notification: dict[str, Any] = {
            "event_id": str(self.message_id),
            "room_id": str(self.chat_id),
            "prio": "high",
            "counts": {"unread": self.badge},
            "devices": [
                {"app_id": device["app_id"], "pushkey": device["pushkey"], "pushkey_ts": device["pushkey_ts"], "data": {}, "tweaks": {}}
            ],
        }
        if preview:
            notification.update(
                type="m.room.message",
                sender=str(self.sender_id),
                sender_display_name=self.sender_name,
                content={"msgtype": "m.text", "body": self.preview},
            )
            if self.chat_title:
                notification["room_name"] = self.chat_title
        return {"notification": notification}


class PushNotifier:
    """The worker's side: decide who gets what for one (user, chat), send, record."""

    def __init__(self, redis: ArqRedis, sender: PushSender, *, preview: bool) -> None:
        self._redis = redis
        self._sender = sender
        self._preview = preview

    async def notify(self, *, user_id: int, chat_id: int, from_seq: int, final_try: bool) -> bool:
        """Push the chat's unacked messages (from `from_seq` on) to each subscribed device of
        the user, one notification per device; True when some push should be tried again."""
        targets = await store.targets(user_id)
        if not targets:
            return False
        state = await store.chat_state(user_id, chat_id)
        if state is None:
            return False  # left the chat meanwhile
        events = await store.message_events(user_id, chat_id, from_seq)
        if not events:
            return False
        sent_key = keys.PUSH_SENT.format(user_id=user_id, chat_id=chat_id)
        marks = {int(k): int(v) for k, v in (await cast(Awaitable[dict[bytes, bytes]], self._redis.hgetall(sent_key))).items()}
        plans: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        for target in targets:
            floor = max(int(target["acked_seq"]), marks.get(int(target["id"]), 0))
            pending = [e for e in events if e["inbox_seq"] > floor]
            if state["muted"]:
                pending = [e for e in pending if e["mentioned"]]
            if pending:
                plans.append((target, pending))
        if not plans:
            return False
        badge = await store.unread_total(user_id)
        outcomes = await asyncio.gather(
            *(self._send(target, self._notification(chat_id, state, pending, badge)) for target, pending in plans)
        )
        retry = False
        async with self._redis.pipeline(transaction=False) as pipe:
            for (target, pending), outcome in zip(plans, outcomes):
                if outcome == "sent":
                    pipe.hset(sent_key, str(target["id"]), pending[-1]["inbox_seq"])
                elif outcome == "retry" and not final_try:
                    retry = True
                elif outcome == "retry":
                    outcome = "failed"
                metrics.PUSHES.labels(kind=target["kind"], outcome=outcome).inc()
            pipe.expire(sent_key, SENT_MARK_TTL)
            await pipe.execute()
        for (target, _), outcome in zip(plans, outcomes):
            if outcome == "gone":
                await store.delete(int(target["id"]))
                log.info("push subscription gone; deleted", extra={"subscription_id": target["id"], "kind": target["kind"]})
        if any(outcome == "gone" for outcome in outcomes):
            await forget_if_none(self._redis, user_id)
        return retry

    def _notification(self, chat_id: int, state: dict[str, Any], pending: list[dict[str, Any]], badge: int) -> Notification:
        latest = pending[-1]
        content: str = latest["content"]
        return Notification(
            chat_id=chat_id,
            chat_title=state["title"] if state["type"] == "group" else None,
            message_id=int(latest["message_id"]),
            inbox_seq=int(latest["inbox_seq"]),
            sender_id=int(latest["sender_id"]),
            sender_name=str(latest["sender_name"]),
            preview=content if len(content) <= PREVIEW_CHARS else content[: PREVIEW_CHARS - 1] + "…",
            count=len(pending),
            badge=badge,
            mention=any(e["mentioned"] for e in pending),
            committed_at=float(latest["committed_at"]) if latest["committed_at"] is not None else None,
        )

    async def _send(self, target: dict[str, Any], notification: Notification) -> Outcome:
        if target["kind"] == "webpush":
            outcome = await self._sender.webpush(
                endpoint=target["url"], p256dh=target["p256dh"], auth=target["auth"],
                payload=notification.webpush_payload(preview=self._preview),
                topic=f"chat-{notification.chat_id}",
            )  # fmt: skip
        else:
            created: datetime = target.get("created_at") or datetime.now()
            device = {"app_id": target["app_id"], "pushkey": target["pushkey"], "pushkey_ts": int(created.timestamp())}
            outcome = await self._sender.gateway(
                url=target["url"], pushkey=target["pushkey"], body=notification.matrix_notification(device, preview=self._preview)
            )
        if outcome == "sent" and notification.committed_at is not None:
            metrics.PUSH_LATENCY.labels(kind=target["kind"]).observe(max(0.0, time.time() - notification.committed_at))
        return outcome


def retry_delay(job_try: int) -> float:
    """Seconds before try `job_try + 1`: RETRY_BASE doubled per failed try."""
    return float(RETRY_BASE * 2 ** max(0, job_try - 1))
