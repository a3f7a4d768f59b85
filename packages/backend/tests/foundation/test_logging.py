"""Structured logs: request ids on every line of a request, JSON when asked, secrets redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.core.logging import configure_logging, get_logger


class Captured:
    """The lines the app's own log handler would write, captured with the app's own formatter."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def lines(self) -> list[str]:
        return [line for line in self.stream.getvalue().splitlines() if line.strip()]

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def captured_logs() -> Iterator[Any]:
    """Call the returned function after configure_logging (create_app) to start capturing.

    The root logger's handlers and level are restored afterwards, so a test's INFO level does not
    outlive it.
    """
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    added: list[logging.Handler] = []

    def start() -> Captured:
        [installed] = root.handlers  # configure_logging installs exactly one handler
        capture = Captured()
        handler = logging.StreamHandler(capture.stream)
        handler.setFormatter(installed.formatter)
        root.addHandler(handler)
        added.append(handler)
        return capture

    yield start
    for handler in added:
        root.removeHandler(handler)
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


async def request(app: Any, path: str, request_id: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return await http.get(path, headers={"X-Request-ID": request_id})


async def test_json_log_lines_of_a_request_carry_its_id(
    app_factory: Any, settings_factory: Any, captured_logs: Any
) -> None:
    # A dead Redis makes the health check log a warning from inside the request handler.
    settings = settings_factory(log_level="INFO", log_format="json", redis_url="redis://127.0.0.1:1/0")
    app = await app_factory(settings)
    logs = captured_logs()

    response = await request(app, "/api/v1/health", "req-json-1")
    assert response.status_code == 200

    records = logs.records()  # every line is one JSON object
    by_event = {record["event"]: record for record in records}
    access = by_event["request"]
    assert access["request_id"] == "req-json-1"
    assert access["method"] == "GET"
    assert access["path"] == "/api/v1/health"
    assert access["status"] == 200
    assert access["duration_ms"] >= 0
    assert access["level"] == "info"
    assert access["timestamp"].endswith("Z")
    inner = by_event["health_redis_down"]
    assert inner["request_id"] == "req-json-1"
    assert inner["level"] == "warning"
    inside = [record for record in records if record["logger"] != "httpx"]
    assert {record.get("request_id") for record in inside} == {"req-json-1"}
    # The test client's own line is logged after the request finished: no id is left behind.
    assert all("request_id" not in record for record in records if record["logger"] == "httpx")


async def test_requests_do_not_share_ids(app_factory: Any, settings_factory: Any, captured_logs: Any) -> None:
    app = await app_factory(settings_factory(log_level="INFO", log_format="json"))
    logs = captured_logs()
    await request(app, "/api/v1/health/live", "req-a")
    await request(app, "/api/v1/health/live", "req-b")
    ids = [record["request_id"] for record in logs.records() if record["event"] == "request"]
    assert ids == ["req-a", "req-b"]


async def test_unhandled_errors_are_logged_with_traceback_and_request_id(
    app_factory: Any, settings_factory: Any, captured_logs: Any
) -> None:
    app = await app_factory(settings_factory(log_level="INFO", log_format="json"))

    @app.get("/probe/crash")
    async def crash() -> None:
        raise RuntimeError("kaboom in the logs")

    logs = captured_logs()
    response = await request(app, "/probe/crash", "req-crash")
    assert response.status_code == 500
    [error] = [record for record in logs.records() if record["event"] == "unhandled_error"]
    assert error["request_id"] == "req-crash"
    assert error["level"] == "error"
    # The stack trace belongs in the logs, never in the response.
    assert "RuntimeError: kaboom in the logs" in error["exception"]
    assert "kaboom" not in response.text


async def test_console_format_is_readable_and_carries_the_request_id(
    app_factory: Any, settings_factory: Any, captured_logs: Any
) -> None:
    app = await app_factory(settings_factory(log_level="INFO", log_format="console"))
    logs = captured_logs()
    await request(app, "/api/v1/health/live", "req-console-1")
    [line] = [line for line in logs.lines if "[delight.request]" in line]
    assert "request_id=req-console-1" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


@pytest.mark.parametrize(
    ("environment", "log_format", "json_logs"),
    [
        ("production", "auto", True),
        ("staging", "auto", True),
        ("development", "auto", False),
        ("test", "auto", False),
        ("development", "json", True),
        ("production", "console", False),
    ],
)
def test_log_format_follows_environment_unless_set(
    settings_factory: Any, environment: str, log_format: str, json_logs: bool
) -> None:
    overrides: dict[str, Any] = {"environment": environment, "log_format": log_format}
    if environment == "production":  # production refuses placeholder-looking secrets
        overrides["clerk_secret_key"] = "sk_live_a1b2c3d4e5"
    assert settings_factory(**overrides).json_logs is json_logs


def test_secrets_are_redacted(captured_logs: Any) -> None:
    configure_logging("INFO", json=True)
    logs = captured_logs()
    get_logger("delight.test").info(
        "outgoing_call",
        authorization="Bearer eyJhbGciOi.secret.token",
        Cookie="__session=abc123",
        api_key="sk-live-openai",
        password="hunter2",
        clerk_webhook_secret="whsec_real",
        url="https://api.clerk.com/v1/jwks",
        headers={"Authorization": "Bearer nested.jwt.value", "X-Request-ID": "abc", "x-api-key": "k-123"},
    )
    [record] = logs.records()
    assert record["authorization"] == "[redacted]"
    assert record["Cookie"] == "[redacted]"
    assert record["api_key"] == "[redacted]"
    assert record["password"] == "[redacted]"
    assert record["clerk_webhook_secret"] == "[redacted]"
    assert record["url"] == "https://api.clerk.com/v1/jwks"
    assert record["headers"] == {
        "Authorization": "[redacted]",
        "X-Request-ID": "abc",
        "x-api-key": "[redacted]",
    }
    text = "\n".join(logs.lines)
    for secret in ("eyJhbGciOi", "abc123", "sk-live-openai", "hunter2", "whsec_real", "nested", "k-123"):
        assert secret not in text


def test_stdlib_loggers_share_the_format(captured_logs: Any) -> None:
    configure_logging("INFO", json=True)
    logs = captured_logs()
    logging.getLogger("sqlalchemy.pool").warning("pool %s exhausted", "primary")
    [record] = logs.records()
    assert record["event"] == "pool primary exhausted"
    assert record["logger"] == "sqlalchemy.pool"
    assert record["level"] == "warning"


async def test_the_request_id_does_not_leak_to_the_caller(
    app_factory: Any, settings_factory: Any, captured_logs: Any
) -> None:
    app = await app_factory(settings_factory(log_level="INFO", log_format="json"))
    logs = captured_logs()
    await request(app, "/api/v1/health/live", "req-scoped")
    get_logger("delight.test").info("after_the_request")
    after = [record for record in logs.records() if record["event"] == "after_the_request"]
    assert after == [
        {
            "event": "after_the_request",
            "level": "info",
            "logger": "delight.test",
            "timestamp": after[0]["timestamp"],
        }
    ]
