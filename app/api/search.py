"""GET /messages/search: full-text search over the caller's chats (contract, Messages)."""

from __future__ import annotations

from typing import Any

from quart_schema import tag

from app.api.responses import SearchPage
from app.api.schemas import MessageSearchQuery
from app.api.validation import authenticated_blueprint, principal, query, responds
from app.services.search import SearchService

bp = authenticated_blueprint("search", "/messages")
_service = SearchService()  # stateless: no settings or connections of its own


@bp.get("/search")
@tag(["messages"])
@responds(SearchPage, errors=(404,))
@query(MessageSearchQuery)
async def search(query_args: MessageSearchQuery) -> dict[str, Any]:
    """Newest first. `highlight` is `content` HTML-escaped, each match in <mark>…</mark>.
    404 for a `chat_id` the caller is not a member of, as for one that does not exist."""
    page = await _service.search(
        user_id=principal().user_id,
        query=query_args.q,
        chat_id=query_args.chat_id,
        cursor=query_args.cursor,
        limit=query_args.limit,
    )
    return page.body()
