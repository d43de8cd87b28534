"""Redis commands that arrive together go in one pipeline.

Every send makes a rate-limit check and every socket's handshake a slot reservation and a
presence mark, each a small script. A round trip costs the event loop several times the
CPU of one more command in a pipeline (make bench's profile had the limiter alone at 6-8 % of
the API), and bursts (a load, a reconnect storm) are when the API has no CPU to spare. Redis runs a pipeline's
commands one after another, so each is judged exactly as if it had been sent alone.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from redis.asyncio import Redis

_Call = tuple[tuple[Any, ...], "asyncio.Future[Any]"]


class RedisBatcher:
    """Commands called while a round trip is out wait for it and go together in the next."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._pending: list[_Call] = []
        self._task: asyncio.Task[None] | None = None

    async def eval(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """EVAL rather than EVALSHA: a Redis restarted empty has lost its script cache, and a
        pipeline cannot reload a script without one more round trip every time."""
        return await self.call("EVAL", script, len(keys), *keys, *args)

    async def call(self, *command: Any) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((command, future))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._send(batch)
            finally:
                for _, future in batch:
                    if not future.done():  # the task itself was cancelled (shutdown)
                        future.cancel()

    async def _send(self, batch: list[_Call]) -> None:
        results: list[Any]
        try:
            if len(batch) == 1:  # a quiet moment: a pipeline would only add its own cost
                results = [await self._redis.execute_command(*batch[0][0])]
            else:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for command, _ in batch:
                        pipe.execute_command(*command)
                    results = await pipe.execute(raise_on_error=False)
        except Exception as exc:  # the connection: every command of the batch shares its fate
            results = [exc] * len(batch)
        for (_, future), result in zip(batch, results):
            if future.done():  # its caller was cancelled meanwhile
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)


_batchers: weakref.WeakKeyDictionary[Redis, RedisBatcher] = weakref.WeakKeyDictionary()


def batcher(redis: Redis) -> RedisBatcher:
    """The one batcher of this Redis client, so all its callers share pipelines."""
    found = _batchers.get(redis)
    if found is None:
        found = _batchers[redis] = RedisBatcher(redis)
    return found
