"""How the application plugs into the fan-out layer (as centrifuge's node takes OnConnect and
its broker a BrokerEventHandler): the node keeps sockets whole and calls these for anything
that needs the application's storage or rules. app/services/gateway.py implements them."""

from __future__ import annotations

import uuid
from typing import Protocol


class NodeHooks(Protocol):
    async def on_connect(self, *, user_id: int, connection_id: str) -> None:
        """A connection joined this instance (subscribed, replay asked for)."""

    async def on_disconnect(self, *, user_id: int, connection_id: str) -> None:
        """A connection left this instance; must not raise for a dependency being away."""

    async def on_alive(self, connections: list[tuple[int, str]]) -> None:
        """These (user_id, connection_id) are still connected (called every tick for a slice
        of the connections, so each is reported about twice per heartbeat interval)."""

    async def on_acks(self, acks: list[tuple[int, str, int]]) -> None:
        """Devices acked inbox events up to a seq, as (user_id, device_id, inbox_seq), at most
        one per device. Raising keeps them: the node offers them again on its next flush."""

    async def inbox_heads(self, user_ids: list[int]) -> dict[int, int]:
        """Each user's last inbox seq (the reconcile loop compares it to its connections)."""

    async def sessions_ended(self, session_ids: list[uuid.UUID]) -> list[uuid.UUID]:
        """Which of these sessions ended (the safety net under the revocation channel)."""
