"""Every /api/v1 route except health and the webhook requires a verified session token.

Routes are enumerated from the OpenAPI document, so routers added by later domains are covered
without touching this file.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from tests.auth.test_tokens import assert_401

PUBLIC_PREFIXES = ("/api/v1/health",)
# The webhook authenticates with its Svix signature; unsubscribe with the signed token in the link.
PUBLIC_PATHS = {"/api/v1/webhooks/clerk", "/api/v1/notifications/unsubscribe"}
METHODS = {"get", "post", "put", "patch", "delete"}


def api_operations(app: Any) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
        if method in METHODS and path.startswith("/api/v1")
    ]


def protected_operations(app: Any) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for method, path, operation in api_operations(app)
        if not path.startswith(PUBLIC_PREFIXES) and path not in PUBLIC_PATHS
    ]


def test_every_api_route_declares_the_bearer_scheme(app: Any) -> None:
    operations = protected_operations(app)
    assert ("GET", "/api/v1/users/me") in {(m, p) for m, p, _ in operations}
    undeclared = [f"{m} {p}" for m, p, op in operations if {"HTTPBearer": []} not in op.get("security", [])]
    assert undeclared == []


def test_public_routes_are_exactly_health_the_webhook_and_unsubscribe(app: Any) -> None:
    public = {p for _, p, _ in api_operations(app)} - {p for _, p, _ in protected_operations(app)}
    assert {"/api/v1/webhooks/clerk", "/api/v1/notifications/unsubscribe"} <= public
    assert all(p.startswith(PUBLIC_PREFIXES) or p in PUBLIC_PATHS for p in public)


async def test_every_api_route_answers_401_without_a_token(app: Any, client: httpx.AsyncClient) -> None:
    for method, path, _ in protected_operations(app):
        concrete = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        assert_401(await client.request(method, concrete), "missing_token")
        assert_401(
            await client.request(method, concrete, headers={"Authorization": "Bearer x"}), "malformed_token"
        )


async def test_public_routes_need_no_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/")).status_code == 200
    assert (await client.get("/api/v1/health/live")).status_code == 200
    # The webhook authenticates with its Svix signature instead: unsigned is 400, never 401.
    assert (await client.post("/api/v1/webhooks/clerk", content=b"{}")).status_code == 400
    # Unsubscribe authenticates with the link's signed token: a bad one is 400, never 401.
    bad = await client.get("/api/v1/notifications/unsubscribe", params={"token": "not-a-real-token"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_token"
