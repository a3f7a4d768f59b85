"""GET/PATCH /api/v1/users/me/preferences."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

PREFS = "/api/v1/users/me/preferences"


async def test_defaults(client: httpx.AsyncClient, auth_headers: Any) -> None:
    body = (await client.get(PREFS, headers=auth_headers("user_a"))).json()
    assert body["theme"] == "system"
    assert body["custom_hours"] == {} and body["communication_preferences"] == {}
    assert body["onboarding_completed"] is False and body["onboarding_completed_at"] is None


@pytest.mark.parametrize("theme", ["light", "dark", "system"])
async def test_theme_values(client: httpx.AsyncClient, auth_headers: Any, theme: str) -> None:
    response = await client.patch(PREFS, headers=auth_headers("user_a"), json={"theme": theme})
    assert response.status_code == 200 and response.json()["theme"] == theme


async def test_nested_objects_merge_and_null_removes_a_key(
    client: httpx.AsyncClient, auth_headers: Any
) -> None:
    headers = auth_headers("user_a")
    quiet = {"start": "22:00", "end": "08:00"}
    await client.patch(PREFS, headers=headers, json={"custom_hours": {"quiet_hours": quiet}})
    response = await client.patch(
        PREFS, headers=headers, json={"custom_hours": {"work_hours": {"start": "09:00", "end": "17:30"}}}
    )
    assert response.json()["custom_hours"] == {
        "quiet_hours": quiet,
        "work_hours": {"start": "09:00", "end": "17:30"},
    }
    response = await client.patch(PREFS, headers=headers, json={"custom_hours": {"quiet_hours": None}})
    assert response.json()["custom_hours"] == {"work_hours": {"start": "09:00", "end": "17:30"}}
    response = await client.patch(PREFS, headers=headers, json={"communication_preferences": {"sms": True}})
    assert response.json()["communication_preferences"] == {"sms": True}
    response = await client.patch(
        PREFS,
        headers=headers,
        json={"communication_preferences": {"nudge_frequency": "off", "preferred_send_time": "10:00"}},
    )
    assert response.json()["communication_preferences"] == {
        "sms": True,
        "nudge_frequency": "off",
        "preferred_send_time": "10:00",
    }
    assert (await client.get(PREFS, headers=headers)).json()["custom_hours"] == {
        "work_hours": {"start": "09:00", "end": "17:30"}
    }


async def test_custom_hours_days_are_normalised(client: httpx.AsyncClient, auth_headers: Any) -> None:
    response = await client.patch(
        PREFS, headers=auth_headers("user_a"), json={"custom_hours": {"preferred_days": ["Monday", "FRIDAY"]}}
    )
    assert response.json()["custom_hours"] == {"preferred_days": ["monday", "friday"]}


async def test_onboarding_completion_is_timestamped(client: httpx.AsyncClient, auth_headers: Any) -> None:
    headers = auth_headers("user_a")
    done = (await client.patch(PREFS, headers=headers, json={"onboarding_completed": True})).json()
    assert done["onboarding_completed"] is True and done["onboarding_completed_at"] is not None
    again = (await client.patch(PREFS, headers=headers, json={"onboarding_completed": True})).json()
    assert again["onboarding_completed_at"] == done["onboarding_completed_at"]
    undone = (await client.patch(PREFS, headers=headers, json={"onboarding_completed": False})).json()
    assert undone["onboarding_completed"] is False and undone["onboarding_completed_at"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"theme": "neon"}, "theme"),
        ({"theme": ""}, "theme"),
        (
            {"custom_hours": {"quiet_hours": {"start": "24:00", "end": "08:00"}}},
            "custom_hours.quiet_hours.start",
        ),
        (
            {"custom_hours": {"quiet_hours": {"start": "22:00", "end": "8:00"}}},
            "custom_hours.quiet_hours.end",
        ),
        (
            {"custom_hours": {"quiet_hours": {"start": "22:60", "end": "08:00"}}},
            "custom_hours.quiet_hours.start",
        ),
        ({"custom_hours": {"quiet_hours": {"start": "22:00", "end": "22:00"}}}, "custom_hours.quiet_hours"),
        ({"custom_hours": {"quiet_hours": {"start": "22:00"}}}, "custom_hours.quiet_hours.end"),
        ({"custom_hours": {"work_hours": "9-5"}}, "custom_hours.work_hours"),
        ({"custom_hours": {"preferred_days": ["someday"]}}, "custom_hours.preferred_days"),
        ({"custom_hours": {"bedtime": "23:00"}}, "custom_hours.bedtime"),
        (
            {"communication_preferences": {"nudge_frequency": "hourly"}},
            "communication_preferences.nudge_frequency",
        ),
        (
            {"communication_preferences": {"preferred_send_time": "25:00"}},
            "communication_preferences.preferred_send_time",
        ),
        ({"communication_preferences": {"sms": "yes please"}}, "communication_preferences.sms"),
        ({"onboarding_completed": "maybe"}, "onboarding_completed"),
        ({"user_id": "00000000-0000-0000-0000-000000000000"}, "user_id"),
    ],
)
async def test_invalid_preferences_are_422_naming_the_field(
    client: httpx.AsyncClient, auth_headers: Any, body: dict[str, Any], field: str
) -> None:
    response = await client.patch(PREFS, headers=auth_headers("user_a"), json=body)
    assert response.status_code == 422, response.text
    assert field in [d["field"] for d in response.json()["error"]["details"]], response.json()
    assert (await client.get(PREFS, headers=auth_headers("user_a"))).json()["theme"] == "system"
