"""Turns: pipelined sends of one socket are stored in the order they arrived.

A WebSocket's `message` frames are handled concurrently, so one socket's sends overlap their
rate-limit round trips and their acks, but each send's store waits for the store of the frame
before it: a chat's `seq` keeps the order the client sent in.
"""

from __future__ import annotations

import asyncio


class Turn:
    def __init__(self, previous: asyncio.Future[None] | None) -> None:
        self._previous = previous
        self._done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def wait(self) -> None:
        """Until the previous send's turn has ended (stored, refused or failed)."""
        if self._previous is not None:
            # Shielded: a cancelled waiter must not cancel the previous send's future.
            await asyncio.shield(self._previous)

    @property
    def ended(self) -> asyncio.Future[None]:
        return self._done

    def end(self) -> None:
        """Let the next send store once every earlier one has: a send that ends before its
        turn (a refused frame) must not let the next one overtake the earlier ones.
        Idempotent, and called however this send ends."""
        if self._previous is None or self._previous.done():
            self._release()
        else:
            self._previous.add_done_callback(lambda _: self._release())

    def _release(self) -> None:
        if not self._done.done():
            self._done.set_result(None)


class Turns:
    """One per socket: `take()` in the order frames arrive."""

    def __init__(self) -> None:
        self._last: asyncio.Future[None] | None = None

    def take(self) -> Turn:
        turn = Turn(self._last)
        self._last = turn.ended
        return turn
