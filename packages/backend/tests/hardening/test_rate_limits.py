"""Per-user limits in Redis: the default limit on every authenticated route, chat and decomposition
limits, keyed by the Clerk user id and shared by every process; 429 with Retry-After."""

from __future__ import annotations

from typing import Any

import httpx

from tests.auth.conftest import ApiFactory

GOAL = {"title": "Run a marathon", "goal_type": "concrete", "value_category": "health"}


def assert_429(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert error["details"] == {"retry_after": retry_after}
    return retry_after


async def test_the_default_limit_covers_every_authenticated_route(api: ApiFactory, auth_headers: Any) -> None:
    """Issue 12: 130 requests in a minute got no 429. Every authenticated route counts against
    RATE_LIMIT_PER_MINUTE; the limited request does no work."""
    client = await api(rate_limit_per_minute=5)
    headers = auth_headers("user_busy")
    paths = [
        "/api/v1/users/me",
        "/api/v1/goals",
        "/api/v1/memories",
        "/api/v1/missions",
        "/api/v1/companion/history",
    ]
    for path in paths:
        assert (await client.get(path, headers=headers)).status_code == 200, path
    for path in [*paths, "/api/v1/users/me/export"]:
        assert_429(await client.get(path, headers=headers))
    assert_429(await client.post("/api/v1/goals", json=GOAL, headers=headers))
    # Other users, and routes without a session token, are not affected.
    assert (await client.get("/api/v1/users/me", headers=auth_headers("user_calm"))).status_code == 200
    assert (await client.get("/api/v1/health/live")).status_code == 200


async def test_the_limit_is_checked_after_the_token(api: ApiFactory, auth_headers: Any) -> None:
    client = await api(rate_limit_per_minute=1)
    for _ in range(3):  # invalid tokens are refused (401) and never counted
        response = await client.get("/api/v1/users/me", headers={"Authorization": "Bearer x.y.z"})
        assert response.status_code == 401
    assert (await client.get("/api/v1/users/me", headers=auth_headers("user_a"))).status_code == 200
    assert_429(await client.get("/api/v1/users/me", headers=auth_headers("user_a")))


async def test_every_process_shares_one_limit(api: ApiFactory, auth_headers: Any) -> None:
    """Two app instances (two processes' worth of state) on one Redis count the same requests."""
    first, second = await api(rate_limit_per_minute=4), await api(rate_limit_per_minute=4)
    headers = auth_headers("user_roaming")
    for client in (first, second, first, second):
        assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200
    assert_429(await first.get("/api/v1/users/me", headers=headers))
    assert_429(await second.get("/api/v1/users/me", headers=headers))


async def test_erasing_and_recreating_the_account_does_not_reset_the_limit(
    api: ApiFactory, auth_headers: Any
) -> None:
    """Keys use the Clerk user id (sub), which survives DELETE /users/me; the internal id does not."""
    client = await api(rate_limit_per_minute=3)
    headers = auth_headers("user_eraser")
    first_id = (await client.get("/api/v1/users/me", headers=headers)).json()["id"]
    assert (await client.delete("/api/v1/users/me", headers=headers)).status_code == 204
    second = await client.get("/api/v1/users/me", headers=headers)  # a new, empty account
    assert second.status_code == 200 and second.json()["id"] != first_id
    assert_429(await client.get("/api/v1/users/me", headers=headers))


async def test_chat_has_its_own_lower_limit(api: ApiFactory, auth_headers: Any) -> None:
    client = await api(companion_chat_rate_limit_per_minute=2, companion_provider="offline")
    headers = auth_headers("user_chatty")
    for _ in range(2):
        response = await client.post("/api/v1/companion/chat", json={"message": "hi"}, headers=headers)
        assert response.status_code == 202, response.text
    limited = await client.post("/api/v1/companion/chat", json={"message": "hi"}, headers=headers)
    assert_429(limited)
    assert limited.json()["error"]["message"] == "Too many messages: at most 2 per 60 seconds"
    # Reads are still allowed: only the default limit applies to them.
    assert (await client.get("/api/v1/companion/history", headers=headers)).status_code == 200
    # After erasure and re-provisioning the chat limit still holds (Clerk id keys).
    assert (await client.delete("/api/v1/users/me", headers=headers)).status_code == 204
    assert_429(await client.post("/api/v1/companion/chat", json={"message": "hi"}, headers=headers))


async def test_decompose_keeps_its_limit_keyed_by_the_clerk_id(api: ApiFactory, auth_headers: Any) -> None:
    client = await api(decompose_rate_limit_per_minute=1)
    headers = auth_headers("user_planner")
    goal = (await client.post("/api/v1/goals", json=GOAL, headers=headers)).json()
    assert (await client.post(f"/api/v1/goals/{goal['id']}/decompose", headers=headers)).status_code == 201
    assert_429(await client.post(f"/api/v1/goals/{goal['id']}/decompose", headers=headers))
