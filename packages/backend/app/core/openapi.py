"""The error responses every route may give, documented once for the OpenAPI schema.

Each is the common error body (``app.core.errors``); routes add their own (404, 409, ...)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="What went wrong, for programs: e.g. not_found, rate_limited")
    message: str = Field(description="What went wrong, for people")
    request_id: str | None = Field(description="Also in the X-Request-ID response header")
    details: Any = Field(default=None, description="Per code: the fields of a 422, the limit of a 413, ...")


class ErrorOut(BaseModel):
    """The one error body of the API."""

    error: ErrorDetail


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"model": ErrorOut, "description": description}
    if headers:
        response["headers"] = headers
    return response


_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
}

# Any route: a body that cannot be read, too large or of the wrong type; bad input; a dependency down.
COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("The request body could not be read (bad_request)"),
    413: _error("Request body over MAX_REQUEST_BODY_BYTES (payload_too_large)"),
    415: _error("A body not sent as application/json (unsupported_media_type)"),
    422: _error("Invalid request: validation_error (details name each field) or invalid_json"),
    503: _error("PostgreSQL or Redis unavailable (dependency_unavailable); retry later", _RETRY_AFTER),
}
# Routes behind a Clerk session token.
AUTHENTICATED_ERRORS: dict[int | str, dict[str, Any]] = {
    **COMMON_ERRORS,
    401: _error("Missing or invalid session token; details.reason says why (e.g. expired, user_deleted)"),
    404: _error("No such resource of the signed-in user (not_found): another user's ids answer 404 too"),
    429: _error("Over a per-user limit (rate_limited)", _RETRY_AFTER),
}
# Routes that change state with rules: a transition that is not allowed, a duplicate, a cap reached.
STATEFUL_ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTHENTICATED_ERRORS,
    409: _error("Conflicts with the current state (e.g. conflict, goal_not_open, limit_reached)"),
}
