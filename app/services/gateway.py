"""What the fan-out layer (app/realtime/node.py) needs from the application, behind its hooks
(app/realtime/hooks.py): presence and its announcements, device cursors and delivered
receipts, inbox heads and ended sessions."""

from __future__ import annotations

import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app import metrics
from app.jsonutil import iso
from app.realtime.node import publish_ephemeral
from app.services.presence import PresenceService
from app.services.receipts import ReceiptService
from app.services.sessions import SessionService
from app.storage import chats as chat_store
from app.storage import inbox as inbox_store


class GatewayHooks:
    """The node's hooks (app.realtime.hooks.NodeHooks), backed by the services."""

    def __init__(
        self,
        redis: Redis,
        *,
        sessions: SessionService,
        presence: PresenceService,
        receipts: ReceiptService,
        large_group_size: int,
    ) -> None:
        self._redis = redis
        self._sessions = sessions
        self._presence = presence
        self._receipts = receipts
        self._large_group_size = large_group_size

    async def on_connect(self, *, user_id: int, connection_id: str) -> None:
        """The connection counts as online; the user's contacts hear it when it is the first."""
        if await self._presence.touch(user_id=user_id, connection_id=connection_id):
            await self._announce_presence(user_id, online=True)

    async def on_disconnect(self, *, user_id: int, connection_id: str) -> None:
        """The connection is offline; the user's contacts hear it when it was the last. Redis
        being away only costs the announcement (the entry lapses by itself)."""
        try:
            if await self._presence.leave(user_id=user_id, connection_id=connection_id):
                await self._announce_presence(user_id, online=False)
        except (RedisError, OSError):
            metrics.DEPENDENCY_ERRORS.labels(dependency="redis", component="presence").inc()

    async def on_alive(self, connections: list[tuple[int, str]]) -> None:
        await self._presence.refresh(connections)

    async def on_acks(self, acks: list[tuple[int, str, int]]) -> None:
        """Device cursors move in one statement, then delivered receipts follow for the
        cursors that moved."""
        moved = await inbox_store.ack_devices(acks)
        if moved:
            await self._receipts.mark_delivered(
                acks=[(row["user_id"], int(row["before"]), int(row["after"])) for row in moved]
            )

    async def inbox_heads(self, user_ids: list[int]) -> dict[int, int]:
        return await inbox_store.last_seqs(user_ids)

    async def sessions_ended(self, session_ids: list[uuid.UUID]) -> list[uuid.UUID]:
        return await self._sessions.revoked_among(session_ids)

    async def _announce_presence(self, user_id: int, *, online: bool) -> None:
        row = await chat_store.presence_announcement(user_id, self._large_group_size)
        if row is None or not row["audience"]:
            return
        frame = {
            "type": "presence",
            "data": {"user_id": user_id, "online": online, "last_seen_at": iso(row["last_seen_at"])},
        }
        await publish_ephemeral(self._redis, list(row["audience"]), frame)
