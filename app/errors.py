"""Domain errors: services raise these; transports turn them into the contract's envelope."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status = 500
    code = "internal"
    message = "Something went wrong on our side."

    def __init__(self, message: str | None = None, *, details: Any = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationFailed(AppError):
    status, code, message = 422, "validation_error", "The request is not valid."


class Unauthorized(AppError):
    status, code, message = 401, "unauthorized", "Missing, invalid or expired credentials."


class Forbidden(AppError):
    status, code, message = 403, "forbidden", "You are not allowed to do this."


class NotFound(AppError):
    status, code, message = 404, "not_found", "Not found."


class Conflict(AppError):
    status, code, message = 409, "conflict", "This conflicts with the current state."


class PayloadTooLarge(AppError):
    status, code, message = 413, "payload_too_large", "The request body is too large."


class RateLimited(AppError):
    status, code, message = 429, "rate_limited", "Too many requests; retry later."

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        super().__init__(message, details={"retry_after": max(1, int(retry_after + 0.999))})
        self.retry_after = max(1, int(retry_after + 0.999))


class Unavailable(AppError):
    status, code, message = 503, "unavailable", "A backing service is unavailable; retry later."


def field_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(details=[{"field": field, "message": message}])


BAD_INPUT_MESSAGE = "A value is out of range or is not valid text (NUL characters are not allowed)."


def input_error(exc: BaseException) -> ValidationFailed | None:
    """The 422 for input that got past validation and was refused as data: by PostgreSQL
    (SQLSTATE class 22: NUL in text, a number or date out of range, ...), by asyncpg while
    encoding an argument (an integer beyond bigint), or by a date conversion that overflows.
    Such input is the client's, so it answers 422, never 500. None for anything else."""
    from asyncpg.exceptions import DataError as PostgresDataError
    from asyncpg.exceptions._base import DataError as ArgumentDataError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (PostgresDataError, ArgumentDataError, OverflowError, UnicodeEncodeError)):
            return ValidationFailed(BAD_INPUT_MESSAGE, details=[{"field": "request", "message": BAD_INPUT_MESSAGE}])
        current = current.__cause__ or current.__context__
    return None
