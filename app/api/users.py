from __future__ import annotations

from typing import Any

from quart import Response
from quart_schema import tag

from app.api.auth import client_ip
from app.api.responses import ExportArchive, ExportStatus, User, UserPage, UserPublic
from app.api.schemas import EraseIn, PageQuery, PasswordChangeIn, ProfileIn, SearchQuery
from app.api.validation import Binary, Streamed, authenticated_blueprint, body, principal, query, responds, services
from app.services.exports import Archive

bp = authenticated_blueprint("users")


@bp.get("/users/me")
@tag(["users"])
@responds(User)
async def me() -> dict[str, Any]:
    return await services().users.me(user_id=principal().user_id)


@bp.patch("/users/me")
@tag(["users"])
@responds(User)
@body(ProfileIn)
async def update_me(data: ProfileIn) -> dict[str, Any]:
    """Change `display_name` and/or `avatar_attachment_id` (an image you uploaded that no
    message carries); null clears. Contacts get `user_updated`."""
    return await services().users.update_profile(user_id=principal().user_id, changes=data.changes())


@bp.delete("/users/me")
@tag(["users"])
@responds(None, 204, errors=(429,))  # wrong passwords count as failed logins
@body(EraseIn)
async def erase_me(data: EraseIn) -> tuple[str, int]:
    """204; the account is erased: every session ends (sockets close with 4401), the username
    and email are freed, the profile and avatar are removed, it leaves every chat, and every
    message it sent keeps its seq with `content` "" and `is_deleted` true (wiped by a job
    right after). Others then see `{deleted: true, username: null, display_name: "Deleted
    account"}`. A wrong `password` is 422 naming it."""
    await services().accounts.erase(principal=principal(), password=data.password, client_ip=client_ip())
    return "", 204


@bp.post("/users/me/password")
@tag(["users"])
@responds(None, 204, errors=(429,))  # wrong current passwords count as failed logins
@body(PasswordChangeIn)
async def change_password(data: PasswordChangeIn) -> tuple[str, int]:
    """204; every other session of the account is revoked (their sockets close with 4401).
    A wrong `current_password` is 422 `validation_error` naming that field, and counts as a
    failed login (429 `rate_limited` past the login throttle)."""
    await services().auth.change_password(
        principal=principal(),
        current_password=data.current_password,
        new_password=data.new_password,
        client_ip=client_ip(),
    )
    return "", 204


@bp.get("/users/<int:user_id>")
@tag(["users"])
@responds(UserPublic, errors=(404,))
async def profile(user_id: int) -> dict[str, Any]:
    return await services().users.profile(viewer_id=principal().user_id, user_id=user_id)


@bp.get("/users/search")
@bp.get("/chats/search")  # the v1 path, an alias (contract v1.1)
@tag(["users"])
@responds(UserPage)
@query(SearchQuery)
async def search(query_args: SearchQuery) -> dict[str, Any]:
    page = await services().users.search(
        caller_id=principal().user_id, query=query_args.q, cursor=query_args.cursor, limit=query_args.limit
    )
    return page.body()


@bp.put("/users/<int:user_id>/block")
@tag(["users"])
@responds(None, 204, errors=(404,))
async def block(user_id: int) -> tuple[str, int]:
    """204, also when already blocked. The blocked user cannot open a direct chat with you,
    send to your direct chat, or add you to a group (403), and you get no typing or presence
    from them. 422 for yourself, 404 for a user that does not exist."""
    await services().users.block(blocker_id=principal().user_id, user_id=user_id)
    return "", 204


@bp.delete("/users/<int:user_id>/block")
@tag(["users"])
@responds(None, 204, errors=(404,))
async def unblock(user_id: int) -> tuple[str, int]:
    """204, also when not blocked."""
    await services().users.unblock(blocker_id=principal().user_id, user_id=user_id)
    return "", 204


@bp.get("/users/me/blocked")
@tag(["users"])
@responds(UserPage)
@query(PageQuery)
async def blocked(query_args: PageQuery) -> dict[str, Any]:
    """The users you blocked, latest first."""
    page = await services().users.blocked(user_id=principal().user_id, cursor=query_args.cursor, limit=query_args.limit)
    return page.body()


@bp.post("/users/me/export")
@tag(["users"])
@responds(ExportStatus, 202)
async def export() -> tuple[dict[str, Any], int]:
    """202 `{id, status: "pending"}`: an arq job builds a JSON archive of your account (profile,
    chats, every message you sent, every upload's metadata and URL); while one is pending,
    asking again answers that one. Archives are removed after 7 days."""
    return await services().exports.request(user_id=principal().user_id), 202


@bp.get("/users/me/export/<int:export_id>")
@tag(["users"])
@responds(Streamed(ExportArchive), 200, errors=(404,), also={202: ExportStatus, 302: Binary})
async def export_archive(export_id: int) -> Response | tuple[dict[str, Any], int]:
    """202 `{id, status}` while pending; 200 the JSON archive once ready (302 to a presigned URL
    with S3 storage). Only its owner sees it: 404 for anyone else."""
    found = await services().exports.fetch(user_id=principal().user_id, export_id=export_id)
    if not isinstance(found, Archive):
        return found, 202
    headers = {"Content-Disposition": found.disposition, "Cache-Control": "private, no-store"}
    if found.redirect is not None:
        return Response("", status=302, headers={**headers, "Location": found.redirect})
    headers["Content-Length"] = str(found.size)
    store = services().attachments.store
    return Response(store.read(found.key, 0, found.size - 1), content_type="application/json", headers=headers)
