"""Every route of the app requires a verified session token, except a short, explicit allow-list.

Routes are enumerated from the app's router itself (not from the OpenAPI document), so routes left out
of the schema (``include_in_schema=False``, such as the legacy stream alias) and routers added by later
domains are covered without touching this file.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from fastapi.routing import iter_route_contexts

from tests.auth.test_tokens import assert_401

# The only routes that answer without a session token. Each entry must exist (checked below).
PUBLIC = {
    ("GET", "/"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/health/live"),
    ("GET", "/api/v1/health/ready"),
    ("POST", "/api/v1/webhooks/clerk"),  # authenticated by its Svix signature instead
    # Authenticated by the signed, expiring token in the e-mail's link (RFC 8058 one-click POST too).
    ("GET", "/api/v1/notifications/unsubscribe"),
    ("POST", "/api/v1/notifications/unsubscribe"),
}
HIDDEN_ALIAS = ("GET", "/api/v1/sse/companion/stream/{conversation_id}")


def app_routes(app: Any) -> dict[tuple[str, str], bool]:
    """``(method, path) → include_in_schema`` for every route the app serves, nested routers included
    (the same walk FastAPI's OpenAPI generator does, before it drops the hidden routes)."""
    routes: dict[tuple[str, str], bool] = {}
    for route in iter_route_contexts(app.routes):
        for method in route.methods or ():
            if method == "HEAD":  # Starlette adds HEAD to GET routes: the same endpoint
                continue
            routes[(method, str(route.path))] = bool(getattr(route, "include_in_schema", True))
    return routes


def protected_routes(app: Any) -> list[tuple[str, str]]:
    return sorted(route for route in app_routes(app) if route not in PUBLIC)


def test_the_enumeration_sees_hidden_routes_and_the_allow_list_is_not_stale(app: Any) -> None:
    routes = app_routes(app)
    assert routes[HIDDEN_ALIAS] is False  # hidden from the schema, yet enumerated
    assert HIDDEN_ALIAS in protected_routes(app)
    assert ("GET", "/api/v1/users/me") in protected_routes(app)
    assert sorted(PUBLIC - set(routes)) == []  # every allow-listed route exists
    schema = {
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert schema == {route for route, in_schema in routes.items() if in_schema}


def test_every_documented_protected_route_declares_the_bearer_scheme(app: Any) -> None:
    paths = app.openapi()["paths"]
    in_schema = app_routes(app)
    undeclared = [
        f"{method} {path}"
        for method, path in protected_routes(app)
        if in_schema[(method, path)]
        and {"HTTPBearer": []} not in paths[path][method.lower()].get("security", [])
    ]
    assert undeclared == []


async def test_every_protected_route_answers_401_without_a_valid_token(
    app: Any, client: httpx.AsyncClient
) -> None:
    checked = []
    for method, path in protected_routes(app):
        concrete = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        assert_401(await client.request(method, concrete), "missing_token")
        assert_401(
            await client.request(method, concrete, headers={"Authorization": "Bearer x"}), "malformed_token"
        )
        checked.append((method, path))
    assert HIDDEN_ALIAS in checked and len(checked) >= 40


async def test_public_routes_need_no_token(client: httpx.AsyncClient) -> None:
    for path in ("/", "/openapi.json", "/docs", "/redoc", "/api/v1/health/live"):
        assert (await client.get(path)).status_code == 200, path
    # The webhook authenticates with its Svix signature instead: unsigned is 400, never 401.
    assert (await client.post("/api/v1/webhooks/clerk", content=b"{}")).status_code == 400
    # Unsubscribe authenticates with the link's signed token: a bad one is 400, never 401.
    bad = await client.get("/api/v1/notifications/unsubscribe", params={"token": "not-a-real-token"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_token"
