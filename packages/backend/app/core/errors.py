"""One error hierarchy, one JSON body: ``{"error": {"code", "message", "request_id", "details"?}}``."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.database import is_transient_conflict, is_unavailable
from app.core.logging import get_logger, request_id_var

log = get_logger(__name__)


class AppError(Exception):
    """Base of every error the API answers with on purpose."""

    status_code = 500
    code = "internal_error"
    message = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.details = details
        self.headers = headers
        super().__init__(self.message)


class BadRequest(AppError):
    status_code = 400
    code = "bad_request"
    message = "Bad request"


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"
    message = "Authentication required"

    def __init__(self, reason: str = "unauthorized", message: str | None = None) -> None:
        # The reason code tells a client what to do (refresh, sign in); nothing more is revealed.
        super().__init__(
            message or "Authentication required",
            code=reason,
            details={"reason": reason},
            headers={"WWW-Authenticate": "Bearer"},
        )


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"
    message = "Forbidden"


class NotFound(AppError):
    status_code = 404
    code = "not_found"
    message = "Not found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"
    message = "Conflict"


class ValidationFailed(AppError):
    status_code = 422
    code = "validation_error"
    message = "Request validation failed"


Location = Literal["body", "query", "path", "header", "cookie"]


def validation_detail(
    field: str, message: str, location: Location = "body", kind: str = "value_error"
) -> dict[str, Any]:
    """One entry of a 422's ``details``: the same shape for request validation and service rules."""
    return {"field": field, "location": location, "message": message, "type": kind}


def invalid_field(
    field: str, message: str, *, summary: str | None = None, location: Location = "body"
) -> ValidationFailed:
    """A 422 for one field that passed the schema but breaks a rule (``raise invalid_field(...)``)."""
    return ValidationFailed(
        summary or f"{field}: {message}", details=[validation_detail(field, message, location)]
    )


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"
    message = "Too many requests"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(
            message,
            headers={"Retry-After": str(max(1, retry_after))},
            details={"retry_after": max(1, retry_after)},
        )


class LimitReached(AppError):
    """A per-user cap (memories, goals, missions per goal) is reached: nothing was stored."""

    status_code = 409
    code = "limit_reached"
    message = "Limit reached"

    def __init__(self, resource: str, limit: int, message: str | None = None) -> None:
        super().__init__(
            message or f"Limit reached: at most {limit} {resource}",
            details={"resource": resource, "limit": limit},
        )


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"
    message = "Request body too large"

    def __init__(self, limit: int, message: str | None = None) -> None:
        super().__init__(
            message or f"Request body too large: at most {limit} bytes", details={"limit": limit}
        )


class ServiceUnavailable(AppError):
    status_code = 503
    code = "service_unavailable"
    message = "Service temporarily unavailable"


# Seconds a client should wait before retrying when a dependency is down.
DEPENDENCY_RETRY_AFTER = 5


class DependencyUnavailable(ServiceUnavailable):
    """PostgreSQL or Redis is down or unreachable: the request changed nothing; retry later."""

    code = "dependency_unavailable"

    def __init__(self, dependency: str, message: str | None = None) -> None:
        super().__init__(
            message or f"A service this request needs ({dependency}) is unavailable; retry shortly",
            details={"dependency": dependency, "retry_after": DEPENDENCY_RETRY_AFTER},
            headers={"Retry-After": str(DEPENDENCY_RETRY_AFTER)},
        )


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_response(
    status_code: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message, "request_id": request_id_var.get()}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status_code, headers=headers)


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").capitalize()
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))


_LOCATIONS = {"body", "query", "path", "header", "cookie"}


def _json_error(exc: RequestValidationError) -> JSONResponse | None:
    """FastAPI reports an unparsable JSON body as one error located at ``("body", <offset>)``; say
    what it is and where, as a line and column, instead of naming a field "16"."""
    errors = exc.errors()
    if len(errors) != 1 or errors[0]["type"] != "json_invalid" or not isinstance(exc.body, str):
        return None
    loc = errors[0]["loc"]
    position = loc[1] if len(loc) == 2 and isinstance(loc[1], int) else None
    reason = str((errors[0].get("ctx") or {}).get("error") or "invalid JSON")
    detail = validation_detail("body", reason, "body", "json_invalid")
    where = ""
    if position is not None:
        line = exc.body.count("\n", 0, position) + 1
        column = position - exc.body.rfind("\n", 0, position)
        detail.update(line=line, column=column, position=position)
        where = f" at line {line}, column {column}"
    message = f"The request body is not valid JSON: {reason}{where}"
    return error_response(422, "invalid_json", message, [detail])


def _media_type_error(request: Request, exc: RequestValidationError) -> JSONResponse | None:
    """A JSON route given a body without ``Content-Type: application/json`` (curl's ``-d`` alone sends
    a form type) gets the raw bytes to validate; name the header instead of "not a dictionary"."""
    if not isinstance(exc.body, bytes) or not exc.body:
        return None
    received = request.headers.get("content-type")
    problem = f"is {received!r}" if received else "is missing"
    return error_response(
        415,
        "unsupported_media_type",
        f"Send the body as JSON with the header Content-Type: application/json (the Content-Type {problem})",
        {"header": "Content-Type", "expected": "application/json", "received": received},
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    special = _media_type_error(request, exc) or _json_error(exc)
    if special is not None:
        return special
    details = []
    for err in exc.errors():
        loc = list(err["loc"])
        # The first element says where (body, query, path, header, cookie); the rest names the field.
        location = str(loc.pop(0)) if loc and loc[0] in _LOCATIONS else "body"
        field = ".".join(str(part) for part in loc) or location
        details.append(validation_detail(field, err["msg"], location, err["type"]))  # type: ignore[arg-type]
    return error_response(422, "validation_error", "Request validation failed", details)


def dependency_of(exc: BaseException) -> str | None:
    """``"redis"`` or ``"database"`` when ``exc`` means that dependency is down or unreachable
    (connection refused or lost, timed out, pool exhausted) or, for the database, aborted the
    transaction to resolve a deadlock; ``None`` for anything else, such as a query error, which
    stays a 500."""
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return "redis"
    if is_unavailable(exc) or is_transient_conflict(exc):  # by SQLSTATE and driver error
        return "database"
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return "database"
    if isinstance(exc, SQLAlchemyTimeoutError | DisconnectionError):
        return "database"
    if isinstance(exc, OperationalError | InterfaceError):
        return "database"
    if isinstance(exc, DBAPIError) and isinstance(exc.orig, OSError | TimeoutError):
        return "database"
    if isinstance(exc, OSError | TimeoutError) and _raised_by_database_driver(exc):
        return "database"
    return None


def _raised_by_database_driver(exc: BaseException) -> bool:
    """asyncpg raises plain ``OSError``/``TimeoutError`` (unwrapped) when it cannot connect."""
    traceback = exc.__traceback__
    while traceback is not None:
        module = traceback.tb_frame.f_globals.get("__name__", "")
        if module.startswith(("asyncpg", "sqlalchemy")):
            return True
        traceback = traceback.tb_next
    return False


async def _dependency_error(request: Request, exc: Exception) -> JSONResponse:
    dependency = dependency_of(exc)
    if dependency is None:
        raise exc  # not ours: the request middleware answers a logged 500
    log.warning(
        "dependency_unavailable", dependency=dependency, error=type(exc).__name__, path=request.url.path
    )
    error = DependencyUnavailable(dependency)
    return error_response(error.status_code, error.code, error.message, error.details, error.headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    for kind in (RedisError, SQLAlchemyError, OSError, TimeoutError):
        app.add_exception_handler(kind, _dependency_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
