"""Structured logging: JSON in production/staging, readable in development; request ids on every line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
user_id_var: ContextVar[str | None] = ContextVar("user_id", default=None)

# Keys whose values never reach a log line, whatever a caller passes.
_SECRET_KEYS = {
    "authorization",
    "token",
    "password",
    "secret",
    "api_key",
    "clerk_secret_key",
    "clerk_webhook_secret",
    "openai_api_key",
    "x_api_key",
    "cookie",
    "set_cookie",
    # URLs that can embed credentials
    "database_url",
    "redis_url",
    "sentry_dsn",
}


def _add_context(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    request_id = request_id_var.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    user_id = user_id_var.get()
    if user_id is not None:
        event.setdefault("user_id", user_id)
    return event


def _is_secret(key: object) -> bool:
    return isinstance(key, str) and key.lower().replace("-", "_") in _SECRET_KEYS


def _redacted(value: Any) -> Any:
    # Nested mappings too: a logged ``headers={...}`` must not carry the Authorization header.
    if isinstance(value, dict):
        return {k: "[redacted]" if _is_secret(k) else _redacted(v) for k, v in value.items()}
    return value


def _redact(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key, value in list(event.items()):
        event[key] = "[redacted]" if _is_secret(key) else _redacted(value)
    return event


class _Formatter(structlog.stdlib.ProcessorFormatter):
    """structlog's formatter, passing through a line already rendered by ``log_request``."""

    def format(self, record: logging.LogRecord) -> str:
        rendered: str | None = getattr(record, "delight_rendered", None)
        if rendered is not None:
            return rendered
        return super().format(record)


_json_lines = False
_access = logging.getLogger("delight.request")
_access_fallback = structlog.stdlib.get_logger("delight.request")


def log_request(method: str, path: str, status: int, duration_ms: float) -> None:
    """The one access-log line of a request (``event=request``).

    In JSON mode the line is rendered here, in one step (the structlog chain costs ≈ 25 µs per
    line, more than a whole request of the bare framework), with the same fields as every other
    line (timestamp, level, logger, request_id, user_id), and written to the same handlers. A
    stream backed by a file or pipe receives it in its byte buffer, flushed once per turn of the
    event loop: under load one write(2) carries many lines instead of one each.
    """
    if not _access.isEnabledFor(logging.INFO):
        return
    if not _json_lines:
        _access_fallback.info("request", method=method, path=path, status=status, duration_ms=duration_ms)
        return
    event: dict[str, Any] = {
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": duration_ms,
        "event": "request",
        "level": "info",
        "logger": "delight.request",
        "timestamp": _timestamp(),
    }
    request_id = request_id_var.get()
    if request_id is not None:
        event["request_id"] = request_id
    user_id = user_id_var.get()
    if user_id is not None:
        event["user_id"] = user_id
    line = orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE)
    record: logging.LogRecord | None = None
    logger: logging.Logger | None = _access
    while logger is not None:  # what Logger.callHandlers does, minus a LogRecord per stream
        for handler in logger.handlers:
            if type(handler) is logging.StreamHandler and isinstance(handler.formatter, _Formatter):
                _write(handler, line)
            else:  # anything else (a test's capture, an integration) gets a regular record
                if record is None:
                    record = logging.LogRecord(
                        "delight.request", logging.INFO, __file__, 0, "request", None, None
                    )
                    record.delight_rendered = line[:-1].decode()
                if record.levelno >= handler.level:
                    handler.handle(record)
        logger = logger.parent if logger.propagate else None


_second: tuple[int, str] = (0, "")


def _timestamp() -> str:
    """structlog's ISO format (``2026-01-01T12:00:00.123456Z``), the date part formatted once a second."""
    global _second
    now = time.time()
    second = int(now)
    if second != _second[0]:
        _second = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S."))
    return f"{_second[1]}{int((now - second) * 1_000_000):06d}Z"


_unflushed: set[Any] = set()


def _write(handler: logging.StreamHandler[Any], line: bytes) -> None:
    stream = handler.stream
    binary = getattr(stream, "buffer", None)
    handler.acquire()
    try:
        if binary is None:  # e.g. an in-memory stream: visible at once
            stream.write(line.decode())
            return
        # Every line written through the text layer ends with a newline, which (line-buffered)
        # pushes it to this same byte buffer: writing there keeps the lines in order.
        binary.write(line)
    except Exception:  # noqa: BLE001 - as logging does: a broken log stream never fails a request
        return
    finally:
        handler.release()
    if not _unflushed:
        asyncio.get_running_loop().call_soon(_flush)
    _unflushed.add(handler)


def _flush() -> None:
    while _unflushed:
        with contextlib.suppress(Exception):
            _unflushed.pop().flush()


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    """Route stdlib and structlog records through one renderer."""
    shared: list[Any] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_context,
        _redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    global _json_lines
    _json_lines = json
    formatter = _Formatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if json else structlog.processors.StackInfoRenderer(),
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's access log duplicates our request log line; its error log is kept.
    for name in ("uvicorn", "uvicorn.error", "arq"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # No handler anywhere above it either: uvicorn then skips building the line at all (as with
    # --no-access-log), instead of formatting its arguments for a disabled logger on every request.
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = False
    access.disabled = True


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
