"""Shared helpers of the goals, missions and progress tests: an injectable clock and an API client
acting as one user."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from app.kit.clock import get_now

LOS_ANGELES = "America/Los_Angeles"  # UTC−8 in January
TONGATAPU = "Pacific/Tongatapu"  # UTC+13, no daylight saving time


class FakeClock:
    """The app's "now": ``app.dependency_overrides[get_now]``; tests move it, nothing sleeps."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now

    def set_local(self, tz: str, *args: int) -> datetime:
        """Set the clock to a local wall time in ``tz`` (year, month, day, hour, minute)."""
        self.now = datetime(*args, tzinfo=ZoneInfo(tz)).astimezone(UTC)  # type: ignore[misc]
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock(app: Any) -> Iterator[FakeClock]:
    fake = FakeClock(datetime(2025, 1, 15, 17, 0, tzinfo=UTC))
    app.dependency_overrides[get_now] = fake
    yield fake
    app.dependency_overrides.pop(get_now, None)


class Api:
    """Calls the API as one Clerk user, asserting the status code."""

    def __init__(self, client: httpx.AsyncClient, auth_headers: Any, sub: str) -> None:
        self.client = client
        self.auth_headers = auth_headers
        self.sub = sub

    async def request(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = await self.client.request(
            method, "/api/v1" + path, headers=self.auth_headers(self.sub), **kwargs
        )
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    async def get(self, path: str, expect: int = 200, **kwargs: Any) -> Any:
        return await self.request("GET", path, expect, **kwargs)

    async def post(self, path: str, json: Any = None, expect: int = 200, **kwargs: Any) -> Any:
        return await self.request("POST", path, expect, json=json, **kwargs)

    async def patch(self, path: str, json: Any = None, expect: int = 200) -> Any:
        return await self.request("PATCH", path, expect, json=json)

    async def delete(self, path: str, expect: int = 204) -> Any:
        return await self.request("DELETE", path, expect)

    async def set_timezone(self, tz: str) -> None:
        await self.patch("/users/me", {"timezone": tz})

    async def goal(self, **overrides: Any) -> dict[str, Any]:
        body = {
            "title": "Run a 10k",
            "description": "Finish a 10k race without walking",
            "goal_type": "concrete",
            "value_category": "health",
            "importance": 4,
        }
        body.update(overrides)
        return await self.post("/goals", body, expect=201)  # type: ignore[no-any-return]

    async def mission(self, goal_id: str, **overrides: Any) -> dict[str, Any]:
        body = {
            "goal_id": goal_id,
            "title": "Jog 15 minutes",
            "estimated_minutes": 15,
            "energy_level": "medium",
        }
        body.update(overrides)
        return await self.post("/missions", body, expect=201)  # type: ignore[no-any-return]

    async def plan(self, goal_id: str) -> dict[str, Any]:
        """Decompose and approve: the goal's missions, as approval returned them."""
        proposal = await self.post(f"/goals/{goal_id}/decompose", expect=201)
        return await self.post(  # type: ignore[no-any-return]
            f"/goals/{goal_id}/decompositions/{proposal['id']}/approve", expect=201
        )

    async def finish(self, mission_id: str, body: Any = None) -> dict[str, Any]:
        await self.post(f"/missions/{mission_id}/start")
        return await self.post(f"/missions/{mission_id}/complete", body)  # type: ignore[no-any-return]


@pytest.fixture
def api(client: httpx.AsyncClient, auth_headers: Any) -> Any:
    """``api("user_a")`` → an ``Api`` acting as Clerk user ``user_a``."""

    def make(sub: str = "user_goals") -> Api:
        return Api(client, auth_headers, sub)

    return make
