"""Request parsing shared by every route: JSON or form bodies and query strings validated by
pydantic models (documented in OpenAPI through quart-schema), and the caller's identity."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from pydantic import BaseModel, TypeAdapter, ValidationError
from quart import Blueprint, Response, current_app, g, request
from quart_schema import document_querystring, document_request

from app.errors import AppError, Forbidden, Unauthorized, ValidationFailed, field_error
from app.jsonutil import dumps, loads
from app.services.registry import Services
from app.services.sessions import Principal

M = TypeVar("M", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("app.api")

# What `responds` declared on a view: {status: body model, or None for no body}, and the
# error statuses it may answer besides those app/api/openapi.py adds to every route.
RESPONSES_ATTRIBUTE = "_messenger_responses"
ERRORS_ATTRIBUTE = "_messenger_errors"
# A body that may also come as a form (documented as both), or may be left out altogether.
FORM_ATTRIBUTE = "_messenger_allow_form"
OPTIONAL_BODY_ATTRIBUTE = "_messenger_optional_body"
# RESPONSE_VALIDATION (Settings.response_validation, copied to the app config): "off" (production
# default: no cost per request), "log" (log a drift, answer anyway), "strict" (a drift is a
# 500 `internal`, so the tests that run the API so catch it).


def services() -> Services:
    registry: Services = current_app.extensions["services"]
    return registry


def _details(exc: ValidationError) -> list[dict[str, str]]:
    return [{"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]} for e in exc.errors()]


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

        setattr(wrapper, FORM_ATTRIBUTE, allow_form)
        return document_request(model)(cast(F, wrapper))

    return decorator


def optional_body(model: type[BaseModel]) -> Callable[[F], F]:
    """Document a JSON body the handler accepts but does not require (it parses it itself)."""

    def decorator(func: F) -> F:
        setattr(func, OPTIONAL_BODY_ATTRIBUTE, True)
        return document_request(model)(func)

    return decorator


def query(model: type[BaseModel]) -> Callable[[F], F]:
    def decorator(func: F) -> F:
        @wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return await func(*args, query_args=parse(model, request.args.to_dict()), **kwargs)

        return document_querystring(model)(cast(F, wrapper))

    return decorator


class ResponseDrift(AppError):
    """A handler answered with a status or body its `responds` declaration does not allow."""


class Binary:
    """`responds(Binary, ...)`: the route answers a file's bytes (documented as binary, never
    checked as JSON); a 302 among its statuses is a redirect with no body."""


@dataclass(frozen=True)
class Streamed:
    """`responds(Streamed(Model), ...)`: a JSON body of Model's schema that the handler sends as
    a prepared, streamed Response (documented as Model; never checked, as it is never whole in
    memory)."""

    model: Any


def responds(
    model: Any, *statuses: int, errors: Iterable[int] = (), also: dict[int, Any] | None = None
) -> Callable[[F], F]:
    """Declare a route's success answers (`model` for each of `statuses`, default 200; model
    None: no body; `also`: more statuses, each with its own model) and the error statuses
    particular to it. /openapi.json documents them
    (app/api/openapi.py adds the statuses every route shares, each with the error envelope);
    with RESPONSE_VALIDATION on, every answer is checked against them, strictly (JSON types,
    no unknown fields), so a handler cannot drift from its documented schema unnoticed."""
    models = {**{status: model for status in statuses or (200,)}, **(also or {})}
    declared: dict[int, TypeAdapter[Any] | type[Binary] | Streamed | None] = {
        status: m if m is None or m is Binary or isinstance(m, Streamed) else TypeAdapter(m)
        for status, m in models.items()
    }

    def decorator(func: F) -> F:
        @wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = await func(*args, **kwargs)
            mode = current_app.config.get("RESPONSE_VALIDATION", "off")
            if mode != "off":
                problem = _drift(declared, result)
                if problem is not None:
                    log.error("response drift", extra={"endpoint": request.endpoint, "problem": problem})
                    if mode == "strict":
                        raise ResponseDrift(details={"endpoint": request.endpoint, "problem": problem})
            return result

        setattr(wrapper, RESPONSES_ATTRIBUTE, models)
        setattr(wrapper, ERRORS_ATTRIBUTE, frozenset(errors))
        return cast(F, wrapper)

    return decorator


def _drift(declared: dict[int, TypeAdapter[Any] | type[Binary] | Streamed | None], result: Any) -> str | None:
    value, status = (result[0], result[1]) if isinstance(result, tuple) else (result, 200)
    if isinstance(value, Response):
        status = value.status_code
    if status not in declared:
        return f"status {status} is not declared"
    adapter = declared[status]
    if adapter is Binary or isinstance(adapter, Streamed):
        return None if isinstance(value, Response) else "a JSON body where a streamed answer is declared"
    if adapter is None:
        return None if value in ("", b"") else "a body where none is declared"
    if isinstance(value, Response) or not isinstance(adapter, TypeAdapter):
        return "a prepared Response where a model is declared"
    try:
        adapter.validate_json(dumps(value), strict=True)
    except ValidationError as exc:
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
    return None


async def authenticate() -> None:
    """before_request hook of every authenticated route: 401 before any input is looked at."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        raise Unauthorized("Send Authorization: Bearer <access_token>.")
    g.principal = await services().sessions.authenticate(header[7:].strip())
    g.user_id = g.principal.user_id
    if g.principal.is_bot and request.path.startswith(BOT_REFUSED):
        raise Forbidden("A bot's token cannot be used here.")


# What a bot's token may not do: sessions, bots, the password, administration.
BOT_REFUSED = ("/auth/", "/bots", "/users/me/password", "/admin/")


def authenticated_blueprint(name: str, url_prefix: str | None = None) -> Blueprint:
    """A blueprint whose every route runs `authenticate` first (app/api/openapi.py documents
    the 401 by finding this hook)."""
    bp = Blueprint(name, f"app.api.{name}", url_prefix=url_prefix)
    bp.before_request(authenticate)
    return bp


def principal() -> Principal:
    """The caller of this request, set by `authenticate`."""
    caller: Principal = g.principal
    return caller
