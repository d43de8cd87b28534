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


class RateLimited(AppError):
    status, code, message = 429, "rate_limited", "Too many requests; retry later."

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        super().__init__(message, details={"retry_after": max(1, int(retry_after + 0.999))})
        self.retry_after = max(1, int(retry_after + 0.999))


class Unavailable(AppError):
    status, code, message = 503, "unavailable", "A backing service is unavailable; retry later."


def field_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(details=[{"field": field, "message": message}])
