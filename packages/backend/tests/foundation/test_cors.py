"""CORS comes from CORS_ORIGINS in the environment, never from code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

ALLOWED = "https://app.delight.example"


@pytest.fixture
async def http(
    monkeypatch: pytest.MonkeyPatch, app_factory: Any, settings_factory: Any
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("CORS_ORIGINS", f"{ALLOWED}, https://staging.delight.example")
    settings = settings_factory()
    assert settings.cors_origins == [ALLOWED, "https://staging.delight.example"]
    app = await app_factory(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "authorization, content-type",
    }


async def test_preflight_from_an_allowed_origin_is_allowed(http: httpx.AsyncClient) -> None:
    response = await http.options("/api/v1/health", headers=preflight(ALLOWED))
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "PATCH" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


async def test_preflight_from_another_origin_is_refused(http: httpx.AsyncClient) -> None:
    response = await http.options("/api/v1/health", headers=preflight("https://evil.example"))
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_default_origins_are_not_allowed_once_configured(http: httpx.AsyncClient) -> None:
    response = await http.options("/api/v1/health", headers=preflight("http://localhost:3000"))
    assert "access-control-allow-origin" not in response.headers


async def test_simple_request_exposes_request_id_to_the_browser(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v1/health/live", headers={"Origin": ALLOWED})
    assert response.headers["access-control-allow-origin"] == ALLOWED
    exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")}
    assert {"x-request-id", "retry-after"} <= exposed


async def test_simple_request_from_another_origin_gets_no_cors_headers(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v1/health/live", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


async def test_a_500_still_carries_cors_headers(
    monkeypatch: pytest.MonkeyPatch, app_factory: Any, settings_factory: Any
) -> None:
    """Otherwise a browser sees an opaque CORS failure instead of the JSON error."""
    monkeypatch.setenv("CORS_ORIGINS", ALLOWED)
    app = await app_factory(settings_factory())

    @app.get("/probe/crash")
    async def crash() -> None:
        raise RuntimeError("boom")

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        response = await client.get("/probe/crash", headers={"Origin": ALLOWED})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["x-request-id"] == response.json()["error"]["request_id"]
