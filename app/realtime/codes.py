"""WebSocket close codes: each with its meaning, in one place (the contract's WebSocket section; the browser
client mirrors them in app/static/codes.js)."""

from __future__ import annotations

from enum import IntEnum


class Close(IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    ABNORMAL = 1006  # the peer vanished without a close frame (never sent, only recorded)
    TOO_BIG = 1009
    FELL_BEHIND = 4008
    SESSION_ENDED = 4401
    IDLE = 4408
    ABUSE = 4429


# What a client is told each code means (documented in /asyncapi.json).
MEANING: dict[Close, str] = {
    Close.GOING_AWAY: "The server instance is going away: reconnect.",
    Close.TOO_BIG: "A frame over 64 KiB.",
    Close.FELL_BEHIND: "The client fell too far behind: its send queue overflowed or a write was blocked"
    " for 10 s. Reconnect and resume from the cursor.",
    Close.SESSION_ENDED: (
        "The session ended (logout, revoked, password changed, account erased or deactivated, or the refresh"
        " lifetime is over)."
    ),
    Close.IDLE: "No frame from the client for 2 x heartbeat_interval.",
    Close.ABUSE: "Repeated rate-limit abuse.",
}
