"""Full-text search over messages (GET /messages/search): the SQL, on the generated
`search_tsv` column and its GIN index (migration 6).

One statement, two branches in newest-first order, so no plan depends on how frequent a word
is (a prepared statement's generic plan cannot know that):

1. The walk: the newest WALK_WINDOW message ids below the cursor, backwards along the primary
   key, keeping the caller's chats' matches. A frequent word fills the page here after a few
   thousand rows, and the LIMIT stops the walk there.
2. The index: only when the walk did not fill the page (a rarer word), older matches from the
   GIN index ANDed with the (chat_id, seq) index of the caller's chats, then sorted. Its cost
   follows the number of matches, small for exactly the words the walk could not finish.
   `ORDER BY m.id + 0` keeps the planner from walking the primary key here: that walk would
   read the whole table for a rare word.

`UNION ALL ... LIMIT` runs the second branch only if the first left the page short.
"""

from __future__ import annotations

from app.db import Row, fetch
from app.storage.messages import MESSAGE_COLUMNS

# Message ids the walk covers before the GIN index takes over. A word in one message of 20 of
# the caller's chats' share fills a page of 50 within it (tests/bench/scenarios/search.py).
WALK_WINDOW = 20_000
BEFORE_ALL = 2**63 - 1

# A member added to a chat whose history is hidden finds nothing from before joining: one probe
# of chat_members' (chat_id, user_id) index per matching message.
_MATCH = """m.chat_id = ANY((SELECT ids FROM scope)::bigint[]) AND NOT m.is_deleted AND m.search_tsv @@ (SELECT q FROM scope)
  AND NOT EXISTS (SELECT 1 FROM chat_members h WHERE h.chat_id = m.chat_id AND h.user_id = $1 AND m.seq <= h.visible_after_seq)"""


def _statement(*, floor: str, walk: str, older: str, order: str) -> str:
    """The search in two branches (module docstring). `walk` is a subquery with its own
    ORDER BY and LIMIT, so the planner cannot push the match into it and answer branch 1 from
    the GIN index (which costs as much as the word is frequent); `older` is branch 2's range.
    The branches pick ids only: the message's columns (and whatever they grow to compute) and
    ts_headline are worked out for the page's rows alone, after the LIMIT."""
    return f"""
WITH scope AS MATERIALIZED (
  SELECT ARRAY(SELECT c.chat_id FROM chat_members c WHERE c.user_id = $1 AND ($2::bigint IS NULL OR c.chat_id = $2)) AS ids,
         to_tsquery('simple', $3) AS q,
         ({floor}) AS floor
)
SELECT {MESSAGE_COLUMNS}, ts_headline('simple', m.content, (SELECT q FROM scope), $6) AS marked
FROM (
  (SELECT m.id FROM ({walk}) m WHERE {_MATCH} ORDER BY m.{order} DESC)
  UNION ALL
  (SELECT m.id FROM messages m WHERE {older} AND {_MATCH} ORDER BY m.{order} + 0 DESC)
  LIMIT $5
) r
JOIN messages m ON m.id = r.id
ORDER BY m.id DESC
"""


# Every chat of the caller: the walk is the newest WALK_WINDOW ids of the whole table.
SEARCH_SQL = _statement(
    floor=f"SELECT max(id) - {WALK_WINDOW} FROM messages WHERE id < $4",
    walk=f"SELECT * FROM messages WHERE id < $4 AND id > (SELECT floor FROM scope) ORDER BY id DESC LIMIT {WALK_WINDOW}",
    older="m.id <= (SELECT floor FROM scope)",
    order="id",
)
# One chat ($2): the walk is that chat's newest WALK_WINDOW messages, along (chat_id, seq);
# within a chat seq rises with id (both are taken under the chat row's lock).
SEARCH_CHAT_SQL = _statement(
    floor=f"SELECT max(seq) - {WALK_WINDOW} FROM messages WHERE chat_id = $2 AND id < $4",
    walk=(
        "SELECT * FROM messages WHERE chat_id = $2 AND id < $4 AND seq > (SELECT floor FROM scope)"
        f" ORDER BY seq DESC LIMIT {WALK_WINDOW}"
    ),
    older="m.chat_id = $2 AND m.seq <= (SELECT floor FROM scope)",
    order="seq",
)


async def search(
    *, user_id: int, chat_id: int | None, tsquery: str, before_id: int | None, limit: int, headline_options: str
) -> list[Row]:
    """Messages of the chats user_id is a member of now (only chat_id when given) matching
    `tsquery` (to_tsquery syntax, `simple` configuration), newest first, ids below before_id;
    each row also has `marked`: its content with ts_headline's markers around the matches."""
    return await fetch(
        SEARCH_SQL if chat_id is None else SEARCH_CHAT_SQL,
        user_id,
        chat_id,
        tsquery,
        BEFORE_ALL if before_id is None else before_id,
        limit,
        headline_options,
    )
