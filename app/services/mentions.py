"""`@username` in message text: the names a message may mention, resolved against the chat's
members when the message is stored (app/storage/messages.py)."""

from __future__ import annotations

import re

# A username (3 to 32 of [A-Za-z0-9_.-]) after an @ that does not continue a word or an email
# address ("bob@example.com" mentions nobody).
_MENTION = re.compile(r"(?<![A-Za-z0-9_.@-])@([A-Za-z0-9_.-]{3,32})")
MAX_NAMES = 50  # more names than this in one message are not looked up


def mention_names(content: str) -> list[str]:
    """Lower-cased candidate usernames, in order of appearance. Trailing dots and dashes also
    end a sentence ("thanks @bob."), so the name without them is a candidate too."""
    names: dict[str, None] = {}
    for match in _MENTION.finditer(content):
        name = match.group(1).lower()
        names[name] = None
        stripped = name.rstrip(".-")
        if len(stripped) >= 3:
            names[stripped] = None
    return list(names)[:MAX_NAMES]
