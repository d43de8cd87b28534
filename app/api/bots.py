"""Bots and their webhooks (contract: Bots and webhooks). Owners only: another user's bot is
a 404; a bot's own token gets 403 here (app/api/validation.py `authenticate`)."""

from __future__ import annotations

from typing import Any

from quart_schema import tag

from app.api.responses import Bot, BotPage, BotToken, NewBot, Webhook, WebhookDeliveryPage, WebhookSecret
from app.api.schemas import BotChangeIn, BotIn, PageQuery, RewindIn
from app.api.validation import authenticated_blueprint, body, principal, query, responds, services

bp = authenticated_blueprint("bots")


@bp.post("/bots")
@tag(["bots"])
@responds(NewBot, 201, errors=(409,))
@body(BotIn)
async def create_bot(data: BotIn) -> tuple[dict[str, Any], int]:
    """A bot you own: a user with `is_bot` that acts with the returned token (it does not
    expire). With `webhook_url` its inbox is POSTed there, signed with `webhook_secret`. 409
    when the username is taken or you own BOTS_PER_USER bots; 422 for a URL that is not https
    or that points into a private network."""
    bot = await services().bots.create(
        owner_id=principal().user_id, username=data.username, display_name=data.display_name, webhook_url=data.webhook_url
    )
    return bot, 201


@bp.get("/bots")
@tag(["bots"])
@responds(BotPage)
@query(PageQuery)
async def list_bots(query_args: PageQuery) -> dict[str, Any]:
    page = await services().bots.list(owner_id=principal().user_id, cursor=query_args.cursor, limit=query_args.limit)
    return page.body()


@bp.patch("/bots/<int:bot_id>")
@tag(["bots"])
@responds(Bot, errors=(404,))
@body(BotChangeIn)
async def update_bot(bot_id: int, data: BotChangeIn) -> dict[str, Any]:
    """Change the display name, the webhook URL (null removes the webhook; the cursor is kept)
    or `webhook_enabled` (true resumes from the cursor)."""
    return await services().bots.update(owner_id=principal().user_id, bot_id=bot_id, changes=data.changes())


@bp.post("/bots/<int:bot_id>/token")
@tag(["bots"])
@responds(BotToken, errors=(404,))
async def rotate_token(bot_id: int) -> dict[str, Any]:
    """A new token; the old one stops at once and its sockets close with 4401."""
    return await services().bots.rotate_token(owner_id=principal().user_id, bot_id=bot_id)


@bp.post("/bots/<int:bot_id>/webhook/secret")
@tag(["bots"])
@responds(WebhookSecret, errors=(404,))
async def rotate_secret(bot_id: int) -> dict[str, Any]:
    return await services().bots.rotate_secret(owner_id=principal().user_id, bot_id=bot_id)


@bp.post("/bots/<int:bot_id>/webhook/rewind")
@tag(["bots"])
@responds(Webhook, errors=(404,))
@body(RewindIn)
async def rewind(bot_id: int, data: RewindIn) -> dict[str, Any]:
    """Deliveries start again after `inbox_seq` (events no longer retained arrive as a `gap`)."""
    return await services().bots.rewind(owner_id=principal().user_id, bot_id=bot_id, inbox_seq=data.inbox_seq)


@bp.get("/bots/<int:bot_id>/webhook/deliveries")
@tag(["bots"])
@responds(WebhookDeliveryPage, errors=(404,))
@query(PageQuery)
async def deliveries(bot_id: int, query_args: PageQuery) -> dict[str, Any]:
    page = await services().bots.deliveries(
        owner_id=principal().user_id, bot_id=bot_id, cursor=query_args.cursor, limit=query_args.limit
    )
    return page.body()


@bp.delete("/bots/<int:bot_id>")
@tag(["bots"])
@responds(None, 204, errors=(404,))
async def delete_bot(bot_id: int) -> tuple[str, int]:
    """The bot leaves every chat; its token (sockets close with 4401) and webhook end."""
    await services().bots.delete(owner_id=principal().user_id, bot_id=bot_id)
    return "", 204
