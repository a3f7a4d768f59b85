"""User A can never read or change user B's data through the users endpoints."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

ME = "/api/v1/users/me"


async def snapshot(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    me = (await client.get(ME, headers=headers)).json()
    prefs = (await client.get(f"{ME}/preferences", headers=headers)).json()
    export = (await client.get(f"{ME}/export", headers=headers)).json()
    export.pop("exported_at")
    return {"me": me, "prefs": prefs, "export": export}


async def test_a_changes_and_erases_only_their_own_data(client: httpx.AsyncClient, auth_headers: Any) -> None:
    a, b = auth_headers("user_a"), auth_headers("user_b")
    await client.patch(ME, headers=b, json={"display_name": "Bob", "timezone": "Asia/Tokyo"})
    await client.patch(f"{ME}/preferences", headers=b, json={"theme": "light", "onboarding_completed": True})
    b_before = await snapshot(client, b)

    assert (
        await client.patch(ME, headers=a, json={"display_name": "Ada", "timezone": "Europe/Paris"})
    ).status_code == 200
    assert (await client.patch(f"{ME}/preferences", headers=a, json={"theme": "dark"})).status_code == 200
    a_view = await snapshot(client, a)
    assert a_view["me"]["id"] != b_before["me"]["id"]
    assert "Bob" not in str(a_view)
    assert (await client.delete(ME, headers=a)).status_code == 204

    assert await snapshot(client, b) == b_before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (ME, {"clerk_user_id": "user_b"}),
        (ME, {"id": "00000000-0000-0000-0000-000000000001", "display_name": "x"}),
        (f"{ME}/preferences", {"user_id": "00000000-0000-0000-0000-000000000001", "theme": "dark"}),
    ],
)
async def test_no_body_can_name_another_user(
    client: httpx.AsyncClient, auth_headers: Any, path: str, body: dict[str, Any]
) -> None:
    b = auth_headers("user_b")
    b_before = await snapshot(client, b)
    response = await client.patch(path, headers=auth_headers("user_a"), json=body)
    assert response.status_code == 422
    assert await snapshot(client, b) == b_before


async def test_a_token_for_a_cannot_be_turned_into_b(client: httpx.AsyncClient, auth_headers: Any) -> None:
    from tests.auth.tokens import with_payload

    b_before = await snapshot(client, auth_headers("user_b"))
    forged = with_payload(auth_headers("user_a")["Authorization"].removeprefix("Bearer "), sub="user_b")
    response = await client.patch(
        ME, headers={"Authorization": f"Bearer {forged}"}, json={"display_name": "pwned"}
    )
    assert response.status_code == 401
    assert await snapshot(client, auth_headers("user_b")) == b_before
