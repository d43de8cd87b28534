"""Push subscriptions per device (contract: Push notifications)."""

from __future__ import annotations

from typing import Any

from quart_schema import tag

from app.api.responses import PushSubscription, VapidPublicKey
from app.api.schemas import PushSubscriptionIn, WebPushSubscriptionIn
from app.api.validation import authenticated_blueprint, body, principal, responds, services

bp = authenticated_blueprint("push", "/push")


@bp.get("/vapid-public-key")
@tag(["push"])
@responds(VapidPublicKey, errors=(503,))
async def vapid_public_key() -> dict[str, Any]:
    """The server's VAPID public key; 503 when Web Push is not configured (VAPID_PRIVATE_KEY)."""
    return {"key": services().push.public_key()}


@bp.post("/subscriptions")
@tag(["push"])
@responds(PushSubscription, 201, errors=(503,))
@body(PushSubscriptionIn)
async def subscribe(data: PushSubscriptionIn) -> tuple[dict[str, Any], int]:
    """201 with the subscription; the same endpoint (webpush) or app_id and pushkey (http)
    again replaces the earlier one. URLs must be http(s) and, unless the server allows
    private targets, name a public host (422 otherwise)."""
    sub = data.root
    if isinstance(sub, WebPushSubscriptionIn):
        row = await services().push.subscribe(
            user_id=principal().user_id, session_id=principal().session_id, device_id=sub.device_id,
            kind="webpush", url=sub.endpoint,
            p256dh=sub.keys.p256dh, auth=sub.keys.auth,
        )  # fmt: skip
    else:
        row = await services().push.subscribe(
            user_id=principal().user_id, session_id=principal().session_id, device_id=sub.device_id,
            kind="http", url=sub.url,
            app_id=sub.app_id, pushkey=sub.pushkey,
        )  # fmt: skip
    return row, 201


@bp.get("/subscriptions")
@tag(["push"])
@responds(list[PushSubscription])
async def list_subscriptions() -> list[dict[str, Any]]:
    return await services().push.list(user_id=principal().user_id)


@bp.delete("/subscriptions/<int(signed=True):subscription_id>")
@tag(["push"])
@responds(None, 204, errors=(404,))
async def unsubscribe(subscription_id: int) -> tuple[str, int]:
    """204; 404 for anything that is not one of the caller's subscriptions."""
    await services().push.unsubscribe(user_id=principal().user_id, subscription_id=subscription_id)
    return "", 204
