from __future__ import annotations

from typing import Any

import httpx


async def test_first_request_provisions_user_with_default_preferences(
    client: httpx.AsyncClient, auth_headers: Any
) -> None:
    response = await client.get("/api/v1/users/me", headers=auth_headers("user_new"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["clerk_user_id"] == "user_new"
    assert body["timezone"] == "UTC"
    prefs = await client.get("/api/v1/users/me/preferences", headers=auth_headers("user_new"))
    assert prefs.status_code == 200
    assert prefs.json()["theme"] == "system"
    assert prefs.json()["onboarding_completed"] is False


async def test_missing_token_is_401_with_bearer_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/users/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "missing_token"
