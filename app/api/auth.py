from __future__ import annotations

import uuid
from typing import Any

from quart import Blueprint, g, request
from quart_schema import tag

from app.api.responses import Session, Ticket, Tokens, User
from app.api.schemas import LoginIn, LogoutIn, RefreshIn, RegisterIn
from app.api.validation import authenticate, body, json_body, optional_body, parse, principal, responds, services

bp = Blueprint("auth", __name__, url_prefix="/auth")
AUTHENTICATED = {"auth.logout", "auth.ws_ticket", "auth.sessions", "auth.revoke_session"}


def client_ip() -> str:
    """The client's address (app/clientaddr.py), worked out once per request in server.py."""
    ip: str = g.client_ip
    return ip


@bp.before_request
async def _authenticate_some() -> None:
    if request.endpoint in AUTHENTICATED:
        await authenticate()


@bp.post("/register")
@tag(["auth"])
@responds(User, 201, errors=(409, 429))
@body(RegisterIn)
async def register(data: RegisterIn) -> tuple[dict[str, Any], int]:
    user = await services().auth.register(
        username=data.username, email=str(data.email), password=data.password, client_ip=client_ip()
    )
    return user, 201


@bp.post("/login")
@tag(["auth"])
@responds(Tokens, errors=(401, 403, 429))
@body(LoginIn, allow_form=True)
async def login(data: LoginIn) -> dict[str, Any]:
    return await services().auth.login(
        login=data.username,
        password=data.password,
        client_ip=client_ip(),
        user_agent=request.headers.get("User-Agent"),
    )


@bp.post("/refresh")
@tag(["auth"])
@responds(Tokens, errors=(401,))
@body(RefreshIn)
async def refresh(data: RefreshIn) -> dict[str, Any]:
    return await services().sessions.refresh(
        refresh_token=data.refresh_token, client_ip=client_ip(), user_agent=request.headers.get("User-Agent")
    )


@bp.post("/logout")
@tag(["auth"])
@responds(None, 204)
@optional_body(LogoutIn)
async def logout() -> tuple[str, int]:
    if await request.get_data():  # the body is optional; when sent, it must be valid
        parse(LogoutIn, await json_body())
    await services().sessions.logout(principal=principal())
    return "", 204


@bp.post("/ws-ticket")
@tag(["auth"])
@responds(Ticket)
async def ws_ticket() -> dict[str, Any]:
    return await services().sessions.issue_ticket(principal=principal())


@bp.get("/sessions")
@tag(["auth"])
@responds(list[Session])
async def sessions() -> list[dict[str, Any]]:
    """The caller's live sessions: `{id, created_at, last_seen_at, ip, user_agent, current}`."""
    return await services().sessions.list_sessions(principal=principal())


@bp.delete("/sessions/<uuid:session_id>")
@tag(["auth"])
@responds(None, 204, errors=(404,))
async def revoke_session(session_id: uuid.UUID) -> tuple[str, int]:
    """204; that session's tokens stop at once and its sockets close with 4401. Any id that is
    not one of the caller's live sessions answers 404."""
    await services().sessions.revoke_session(principal=principal(), session_id=session_id)
    return "", 204
