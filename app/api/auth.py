from __future__ import annotations

from typing import Any

from quart import Blueprint, request
from quart_schema import tag

from app.api.schemas import LoginIn, LogoutIn, RefreshIn, RegisterIn
from app.api.validation import authenticate, body, json_body, parse, principal, services

bp = Blueprint("auth", __name__, url_prefix="/auth")
AUTHENTICATED = {"auth.logout", "auth.ws_ticket"}


@bp.before_request
async def _authenticate_some() -> None:
    if request.endpoint in AUTHENTICATED:
        await authenticate()


@bp.post("/register")
@tag(["auth"])
@body(RegisterIn)
async def register(data: RegisterIn) -> tuple[dict[str, Any], int]:
    user = await services().auth.register(username=data.username, email=str(data.email), password=data.password)
    return user, 201


@bp.post("/login")
@tag(["auth"])
@body(LoginIn, allow_form=True)
async def login(data: LoginIn) -> dict[str, Any]:
    return await services().auth.login(login=data.username, password=data.password, client_ip=request.remote_addr or "?")


@bp.post("/refresh")
@tag(["auth"])
@body(RefreshIn)
async def refresh(data: RefreshIn) -> dict[str, Any]:
    return await services().auth.refresh(refresh_token=data.refresh_token)


@bp.post("/logout")
@tag(["auth"])
async def logout() -> tuple[str, int]:
    if await request.get_data():  # the body is optional; when sent, it must be valid
        parse(LogoutIn, await json_body())
    await services().auth.logout(principal=principal())
    return "", 204


@bp.post("/ws-ticket")
@tag(["auth"])
async def ws_ticket() -> dict[str, Any]:
    return await services().auth.issue_ticket(principal=principal())
