"""The contract's error envelope on every 4xx and 5xx, framework errors included."""

from __future__ import annotations

import logging

from quart import Quart, Response, g, request
from werkzeug.exceptions import HTTPException

from app import metrics
from app.errors import AppError, Unavailable, ValidationFailed, input_error
from app.ids import is_bigint
from app.jsonutil import dumps

log = logging.getLogger("app.errors")

_HTTP_CODES = {
    400: ("validation_error", 422, "The request is malformed."),
    401: ("unauthorized", 401, "Missing, invalid or expired credentials."),
    403: ("forbidden", 403, "You are not allowed to do this."),
    404: ("not_found", 404, "No such route."),
    405: ("method_not_allowed", 405, "This route does not accept that method."),
    413: ("payload_too_large", 413, "The request body is over 1 MiB."),
    415: ("validation_error", 422, "The body must be JSON."),
}


def envelope(error: AppError) -> Response:
    response = Response(dumps(error.body()), status=error.status, content_type="application/json")
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _is_unavailable(exc: BaseException) -> str | None:
    import asyncpg
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from tortoise.exceptions import DBConnectionError

    if isinstance(exc, (RedisConnectionError, RedisTimeoutError)):
        return "redis"
    # Out of connections (53300) or shutting down: the server is there but cannot serve now.
    if isinstance(
        exc,
        (
            DBConnectionError,
            asyncpg.PostgresConnectionError,
            asyncpg.CannotConnectNowError,
            asyncpg.TooManyConnectionsError,
            ConnectionError,
            OSError,
        ),
    ):
        return "postgres"
    if isinstance(exc, asyncpg.InterfaceError) and "connection" in str(exc).lower():
        return "postgres"
    return None


def install(app: Quart) -> None:
    @app.errorhandler(AppError)
    async def app_error(error: AppError) -> Response:
        return envelope(error)

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        code, status, message = _HTTP_CODES.get(error.code or 500, ("internal", error.code or 500, "Request failed."))
        out = AppError(message)
        out.code, out.status = code, status
        response = envelope(out)
        valid_methods = getattr(error, "valid_methods", None)  # MethodNotAllowed has them
        if status == 405 and valid_methods:
            response.headers["Allow"] = ", ".join(valid_methods)
        return response

    @app.errorhandler(Exception)
    async def unhandled(error: Exception) -> Response:
        # First: a refused value's message quotes the input, which may say "connection".
        bad = input_error(error)
        if bad is not None:
            log.warning(
                "input refused as data", extra={"request_id": getattr(g, "request_id", None), "error": repr(error)}
            )
            return envelope(_with_path_fields(bad))
        dependency = _is_unavailable(error)
        if dependency is not None:
            metrics.DEPENDENCY_ERRORS.labels(dependency=dependency, component="api").inc()
            log.warning("dependency unavailable", extra={"dependency": dependency, "error": repr(error)})
            return envelope(Unavailable())
        # Cause chains of pydantic/quart-schema validation errors still answer 422.
        if error.__class__.__name__ == "RequestSchemaValidationError":
            return envelope(ValidationFailed())
        log.exception("unhandled error", extra={"request_id": getattr(g, "request_id", None)})
        return envelope(AppError())


def _with_path_fields(error: ValidationFailed) -> ValidationFailed:
    """Name the path parameters that cannot be a bigint id, when that is what went wrong."""
    fields = [
        name for name, value in (request.view_args or {}).items() if isinstance(value, int) and not is_bigint(value)
    ]
    if fields:
        error.details = [{"field": name, "message": "Out of range for an id."} for name in fields]
    return error
