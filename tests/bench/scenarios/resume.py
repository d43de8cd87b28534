"""Resume after a server close, as a client does (the contract: 4008 "reconnect and resume from its
cursor", 1001 "reconnect"): used by the reconnect storm, so that a device the server closes
before it has its backlog can still complete, and the close is counted, not hidden."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.bench.devices import Device
    from tests.bench.generator import Generator

MAX_RESUMES = 3  # per device and storm


@dataclass
class Resumer:
    gen: Generator
    open_timeout: float
    counts: dict[Device, int] = field(default_factory=dict)
    busy: set[Device] = field(default_factory=set)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def check(self, devices: list[Device]) -> None:
        """Reconnect every device whose socket the server closed before it completed."""
        for device in devices:
            if device.done_ns is not None or device in self.busy or device.reader is None or not device.reader.done():
                continue
            if self.counts.get(device, 0) >= MAX_RESUMES:
                continue
            self.counts[device] = self.counts.get(device, 0) + 1
            self.busy.add(device)
            self.tasks.append(asyncio.create_task(self._resume(device)))

    async def _resume(self, device: Device) -> None:
        try:
            device.reader = None  # it has finished: the socket is closed
            await self.gen.connect_all([device], 0, open_timeout=self.open_timeout)
        finally:
            self.busy.discard(device)

    async def finish(self, timeout: float) -> dict[str, int]:
        if self.tasks:
            _done, pending = await asyncio.wait(self.tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
        return {"resumes": sum(self.counts.values()), "devices_resumed": len(self.counts)}
