"""A user's devices: each has a cursor in the user's inbox, and new ones are rationed."""

from __future__ import annotations

from app import keys
from app.services.ratelimit import SlidingWindowLimiter
from app.storage import inbox as inbox_store


class DeviceService:
    def __init__(self, new_device_limiter: SlidingWindowLimiter) -> None:
        self._new_devices = new_device_limiter

    async def open(self, *, user_id: int, device_id: str) -> int:
        """Register the device and return its cursor (0 for a new one: it starts from the
        beginning of the retained inbox). A device id seen for the first time replays the
        user's whole retained inbox, so at most WS_NEW_DEVICES_PER_DAY of them are accepted
        per user per day; known devices always reconnect."""
        if await inbox_store.device_cursor(user_id, device_id) is None:
            await self._new_devices.enforce(
                keys.NEW_DEVICE_RATE.format(user_id=user_id),
                scope="ws_device",
                message="Too many new devices today; reuse a device_id.",
            )
        return await inbox_store.open_device(user_id, device_id)
