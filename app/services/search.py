"""Message search (GET /messages/search): PostgreSQL full-text over the chats the caller is a
member of now, newest first, the last word matched as a prefix, deleted messages never.

`highlight` is built here, not by PostgreSQL: ts_headline marks the matches with markers made
for this request, and everything between them is HTML-escaped, so no content (`<script>`, or
a literal `<mark>`) can become markup."""

from __future__ import annotations

import html
import re
import secrets
from typing import Any

from app.errors import field_error
from app.services.chats import check_text, require_member
from app.services.pages import Page, encode_cursor, read_cursor, seq_field
from app.services.views import message_body
from app.storage import search as search_store

# What the `simple` parser reads as words: runs of letters and digits of any script. The
# query keeps only these, each quoted, so no user input reaches to_tsquery's syntax.
_WORD = re.compile(r"[^\W_]+")
MAX_WORDS = 32


def tsquery_of(text: str) -> str | None:
    """`'w1' & 'w2' & 'w3':*`: every word required, the last one as a prefix (the user may
    still be typing it). None when the text has no word at all."""
    words = _WORD.findall(text.lower())[:MAX_WORDS]
    if not words:
        return None
    terms = [f"'{word}'" for word in words]
    terms[-1] += ":*"
    return " & ".join(terms)


def highlight(content: str, marked: str, start: str, stop: str) -> str:
    """`content` HTML-escaped, with the spans ts_headline put between `start` and `stop`
    wrapped in <mark>. If the markers could be confused with the content, or the marked text
    is not exactly the content plus markers, the content is returned escaped, unmarked."""
    plain = html.escape(content)
    if start in content or stop in content:
        return plain
    out: list[str] = []
    seen: list[str] = []
    rest = marked
    while rest:
        begin = rest.find(start)
        if begin < 0:
            out.append(html.escape(rest))
            seen.append(rest)
            break
        end = rest.find(stop, begin + len(start))
        if end < 0:
            return plain
        before, match = rest[:begin], rest[begin + len(start) : end]
        out += [html.escape(before), "<mark>", html.escape(match), "</mark>"]
        seen += [before, match]
        rest = rest[end + len(stop) :]
    return "".join(out) if "".join(seen) == content else plain


class SearchService:
    async def search(
        self, *, user_id: int, query: str, chat_id: int | None, cursor: str | None, limit: int
    ) -> Page:
        """A page of `{message, highlight}`, newest first, over the chats user_id is a member
        of now (one chat with chat_id: 404 unless a member, as for a chat that does not
        exist). Deleted messages never match: their content is gone and the index skips them."""
        check_text("q", query)
        if not query.strip():
            raise field_error("q", "Must contain a word.")
        position = read_cursor(cursor, {"id": seq_field})
        if chat_id is not None:
            await require_member(chat_id, user_id)
        tsquery = tsquery_of(query)
        if tsquery is None:
            return Page(items=[], next_cursor=None)
        token = secrets.token_hex(8)
        start, stop = f"\ue000{token}\ue001", f"\ue001{token}\ue000"
        rows = await search_store.search(
            user_id=user_id,
            chat_id=chat_id,
            tsquery=tsquery,
            before_id=position["id"] if position else None,
            limit=limit + 1,
            headline_options=f'HighlightAll=true, StartSel="{start}", StopSel="{stop}"',
        )
        more = len(rows) > limit
        rows = rows[:limit]
        items: list[dict[str, Any]] = [
            {"message": message_body(row, user_id), "highlight": highlight(row["content"], row["marked"], start, stop)}
            for row in rows
        ]
        return Page(items=items, next_cursor=encode_cursor({"id": rows[-1]["id"]}) if more else None)
