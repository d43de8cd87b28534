"""Request parsing shared by every route: JSON or form bodies and query strings validated by
pydantic models (documented in OpenAPI through quart-schema), and the caller's identity."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from quart import current_app, g, request
from quart_schema import document_querystring, document_request

from app.errors import Unauthorized, ValidationFailed, field_error
from app.jsonutil import loads
from app.services.auth import Principal
from app.services.registry import Services

M = TypeVar("M", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Any])


def services() -> Services:
    return current_app.extensions["services"]  # type: ignore[no-any-return]


def _details(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]} for e in exc.errors()
    ]


def parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(details=_details(exc)) from None


async def json_body() -> Any:
    if not request.mimetype == "application/json":
        raise field_error("body", "The body must be JSON (Content-Type: application/json).")
    raw = await request.get_data()
    try:
        return loads(raw) if raw else {}
    except ValueError:
        raise field_error("body", "The body is not valid JSON.") from None


def body(model: type[BaseModel], *, allow_form: bool = False) -> Callable[[F], F]:
    """Validate the body into `data=`; forms too where browsers and Swagger post them."""

    def decorator(func: F) -> F:
        @wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            if allow_form and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                raw: Any = (await request.form).to_dict()
            else:
                raw = await json_body()
            return await func(*args, data=parse(model, raw), **kwargs)

        return document_request(model)(wrapper)  # type: ignore[return-value]

    return decorator


def query(model: type[BaseModel]) -> Callable[[F], F]:
    def decorator(func: F) -> F:
        @wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return await func(*args, query_args=parse(model, request.args.to_dict()), **kwargs)

        return document_querystring(model)(wrapper)  # type: ignore[return-value]

    return decorator


async def authenticate() -> None:
    """before_request hook of every authenticated route: 401 before any input is looked at."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        raise Unauthorized("Send Authorization: Bearer <access_token>.")
    g.principal = await services().auth.authenticate(header[7:].strip())
    g.user_id = g.principal.user_id


def principal() -> Principal:
    """The caller of this request, set by `authenticate`."""
    return g.principal  # type: ignore[no-any-return]
