"""`read` frames, coalesced per connection.

A client may send read frames as fast as it likes; PostgreSQL sees at most one write per
connection at a time. Frames that arrive while a write runs wait, per chat, as the highest
seq (and the message ids) they name, and are applied in one go when the write finished.
Every frame still gets its own `read_ack` (echoing its `ref`); frames applied together share
one result.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from app.errors import AppError, RateLimited, input_error
from app.ws.protocol import error_frame

log = logging.getLogger(__name__)

PENDING_FRAMES_MAX = 5000  # read frames one connection may have waiting; more are refused
PENDING_IDS_MAX = 5000  # message ids one chat's waiting frames may name

Mark = Callable[..., Awaitable[dict[str, Any]]]
Reply = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class _Pending:
    up_to_seq: int | None = None
    message_ids: set[int] = field(default_factory=set)
    refs: list[str | None] = field(default_factory=list)


class ReadCoalescer:
    def __init__(self, *, user_id: int, mark: Mark, reply: Reply) -> None:
        self._user_id = user_id
        self._mark = mark
        self._reply = reply
        self._pending: dict[int, _Pending] = {}
        self._waiting = 0
        self._task: asyncio.Task[None] | None = None

    def submit(self, *, chat_id: int, up_to_seq: int | None, message_ids: list[int] | None, ref: str | None) -> None:
        """Queue one read frame; its read_ack (or error) is sent once it is applied."""
        if self._waiting >= PENDING_FRAMES_MAX:
            raise RateLimited(1.0, "Too many read frames waiting; slow down.")
        pending = self._pending.get(chat_id)
        if pending is None:
            pending = self._pending[chat_id] = _Pending()
        if message_ids:
            if len(pending.message_ids) + len(message_ids) > PENDING_IDS_MAX:
                raise RateLimited(1.0, "Too many read frames waiting; slow down.")
            pending.message_ids.update(message_ids)
        if up_to_seq is not None:
            pending.up_to_seq = max(up_to_seq, pending.up_to_seq or 0)
        pending.refs.append(ref)
        self._waiting += 1
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self._pending:
            chat_id = next(iter(self._pending))
            pending = self._pending.pop(chat_id)
            self._waiting -= len(pending.refs)
            frame = await self._apply(chat_id, pending)
            for ref in pending.refs:
                await self._reply({**frame, "ref": ref} if ref is not None else frame)

    async def _apply(self, chat_id: int, pending: _Pending) -> dict[str, Any]:
        try:
            result = await self._mark(
                user_id=self._user_id,
                chat_id=chat_id,
                up_to_seq=pending.up_to_seq,
                message_ids=sorted(pending.message_ids),
            )
            return {"type": "read_ack", "data": result}
        except AppError as error:
            return error_frame(error, None)
        except Exception as exc:
            bad = input_error(exc)
            if bad is not None:
                return error_frame(bad, None)
            log.exception("read failed", extra={"user_id": self._user_id})
            return error_frame(AppError(), None)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
