"""GET/PATCH /api/v1/users/me."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

ME = "/api/v1/users/me"


async def test_patch_display_name_and_timezone(client: httpx.AsyncClient, auth_headers: Any) -> None:
    headers = auth_headers("user_a")
    response = await client.patch(
        ME, headers=headers, json={"display_name": "Ada", "timezone": "Europe/Paris"}
    )
    assert response.status_code == 200, response.text
    assert (response.json()["display_name"], response.json()["timezone"]) == ("Ada", "Europe/Paris")
    again = (await client.get(ME, headers=headers)).json()
    assert (again["display_name"], again["timezone"]) == ("Ada", "Europe/Paris")


async def test_patch_one_field_leaves_the_other(client: httpx.AsyncClient, auth_headers: Any) -> None:
    headers = auth_headers("user_a")
    await client.patch(ME, headers=headers, json={"display_name": "Ada", "timezone": "Asia/Tokyo"})
    response = await client.patch(ME, headers=headers, json={"timezone": "America/New_York"})
    assert (response.json()["display_name"], response.json()["timezone"]) == ("Ada", "America/New_York")
    # An explicit null does not blank the required timezone.
    response = await client.patch(ME, headers=headers, json={"timezone": None})
    assert response.json()["timezone"] == "America/New_York"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "europe/paris"}, "timezone"),
        ({"timezone": "+02:00"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"display_name": ""}, "display_name"),
        ({"display_name": "x" * 201}, "display_name"),
        ({"email": "me@example.com"}, "email"),
        ({"clerk_user_id": "user_b"}, "clerk_user_id"),
        ({"id": "00000000-0000-0000-0000-000000000000"}, "id"),
    ],
)
async def test_invalid_profile_changes_are_422_naming_the_field(
    client: httpx.AsyncClient, auth_headers: Any, body: dict[str, Any], field: str
) -> None:
    response = await client.patch(ME, headers=auth_headers("user_a"), json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in [d["field"] for d in error["details"]]
    assert (await client.get(ME, headers=auth_headers("user_a"))).json()["clerk_user_id"] == "user_a"


async def test_me_shape(client: httpx.AsyncClient, auth_headers: Any) -> None:
    body = (await client.get(ME, headers=auth_headers("user_a"))).json()
    assert set(body) == {
        "id",
        "clerk_user_id",
        "email",
        "display_name",
        "timezone",
        "created_at",
        "updated_at",
    }
