from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import tag

from app.api.schemas import SearchQuery
from app.api.validation import authenticate, principal, query, services

bp = Blueprint("users", __name__)
bp.before_request(authenticate)


@bp.get("/users/me")
@tag(["users"])
async def me() -> dict[str, Any]:
    return await services().users.me(user_id=principal().user_id)


@bp.get("/users/<int:user_id>")
@tag(["users"])
async def profile(user_id: int) -> dict[str, Any]:
    return await services().users.profile(user_id=user_id)


@bp.get("/chats/search")
@tag(["users"])
@query(SearchQuery)
async def search(query_args: SearchQuery) -> dict[str, Any]:
    page = await services().users.search(
        caller_id=principal().user_id, query=query_args.q, cursor=query_args.cursor, limit=query_args.limit
    )
    return page.body()
