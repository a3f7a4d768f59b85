"""GET /api/v1/users/me/export and DELETE /api/v1/users/me."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Base, User
from app.users import data

ME = "/api/v1/users/me"
USER_TABLES = sorted(t.name for t in Base.metadata.sorted_tables if "user_id" in t.c)


async def rows_of(db: AsyncSession, user_id: uuid.UUID) -> dict[str, int]:
    counts = {"users": int(await db.scalar(select(func.count()).where(User.id == user_id)) or 0)}
    for table in USER_TABLES:
        query = text(f'SELECT count(*) FROM "{table}" WHERE user_id = :id')  # noqa: S608 - names from metadata
        counts[table] = int(await db.scalar(query, {"id": user_id}) or 0)
    return counts


async def set_up(client: httpx.AsyncClient, headers: dict[str, str], name: str) -> uuid.UUID:
    await client.patch(ME, headers=headers, json={"display_name": name, "timezone": "Europe/Berlin"})
    await client.patch(
        f"{ME}/preferences",
        headers=headers,
        json={"theme": "dark", "custom_hours": {"preferred_days": ["monday"]}},
    )
    return uuid.UUID((await client.get(ME, headers=headers)).json()["id"])


async def test_export_contains_profile_and_preferences(client: httpx.AsyncClient, auth_headers: Any) -> None:
    headers = auth_headers("user_a")
    await set_up(client, headers, "Ada")
    response = await client.get(f"{ME}/export", headers=headers)
    assert response.status_code == 200
    export = response.json()
    assert export["format_version"] == 1 and export["exported_at"]
    assert export["user"]["display_name"] == "Ada" and export["user"]["clerk_user_id"] == "user_a"
    assert export["preferences"]["theme"] == "dark"
    assert export["preferences"]["custom_hours"] == {"preferred_days": ["monday"]}
    assert export["webhook_deliveries"] == []


async def test_delete_me_erases_every_row_and_leaves_others(
    client: httpx.AsyncClient, auth_headers: Any, db: AsyncSession
) -> None:
    a = await set_up(client, auth_headers("user_a"), "Ada")
    b = await set_up(client, auth_headers("user_b"), "Bob")
    b_before = await rows_of(db, b)
    assert (await rows_of(db, a))["user_preferences"] == 1

    response = await client.delete(ME, headers=auth_headers("user_a"))
    assert response.status_code == 204
    assert response.content == b""
    assert set((await rows_of(db, a)).values()) == {0}
    assert await rows_of(db, b) == b_before
    assert (await client.get(ME, headers=auth_headers("user_b"))).json()["display_name"] == "Bob"


async def test_after_deletion_the_same_token_gets_a_new_empty_account(
    client: httpx.AsyncClient, auth_headers: Any
) -> None:
    headers = auth_headers("user_a")
    old_id = await set_up(client, headers, "Ada")
    assert (await client.delete(ME, headers=headers)).status_code == 204
    me = (await client.get(ME, headers=headers)).json()  # the same, still valid token
    assert me["id"] != str(old_id)
    assert (me["display_name"], me["timezone"]) == (None, "UTC")
    prefs = (await client.get(f"{ME}/preferences", headers=headers)).json()
    assert (prefs["theme"], prefs["custom_hours"]) == ("system", {})


@pytest.fixture
def recorded_erasures() -> Iterator[list[tuple[uuid.UUID, str]]]:
    """An erase hook like the ones domains register for data kept in Redis."""
    calls: list[tuple[uuid.UUID, str]] = []

    async def hook(redis: Any, user_id: uuid.UUID, clerk_user_id: str) -> None:
        await redis.delete(f"test:buffer:{user_id}")
        calls.append((user_id, clerk_user_id))

    data.erase_hook(hook)
    yield calls
    data._ERASE_HOOKS.remove(hook)


async def test_delete_me_runs_the_erase_hooks_for_data_outside_postgres(
    client: httpx.AsyncClient, auth_headers: Any, redis: Redis, recorded_erasures: list[tuple[uuid.UUID, str]]
) -> None:
    a = await set_up(client, auth_headers("user_a"), "Ada")
    b = await set_up(client, auth_headers("user_b"), "Bob")
    await redis.set(f"test:buffer:{a}", "a's data")
    await redis.set(f"test:buffer:{b}", "b's data")
    assert (await client.delete(ME, headers=auth_headers("user_a"))).status_code == 204
    assert recorded_erasures == [(a, "user_a")]
    assert await redis.get(f"test:buffer:{a}") is None
    assert await redis.get(f"test:buffer:{b}") == b"b's data"


async def test_a_failing_erasure_rolls_everything_back(
    client: httpx.AsyncClient, auth_headers: Any, db: AsyncSession
) -> None:
    a = await set_up(client, auth_headers("user_a"), "Ada")
    before = await rows_of(db, a)

    async def broken(redis: Any, user_id: uuid.UUID, clerk_user_id: str) -> None:
        raise RuntimeError("redis is gone")

    data.erase_hook(broken)
    try:
        response = await client.delete(ME, headers=auth_headers("user_a"))
    finally:
        data._ERASE_HOOKS.remove(broken)
    assert response.status_code == 500
    assert await rows_of(db, a) == before  # one transaction: nothing half-erased


async def test_export_is_json_serialisable_and_mentions_only_the_user(
    client: httpx.AsyncClient, auth_headers: Any
) -> None:
    await set_up(client, auth_headers("user_a"), "Ada")
    await set_up(client, auth_headers("user_b"), "Bob Secretname")
    export = (await client.get(f"{ME}/export", headers=auth_headers("user_a"))).json()
    text_ = json.dumps(export)
    assert "Bob Secretname" not in text_ and "user_b" not in text_
