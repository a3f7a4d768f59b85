"""Just-in-time provisioning of a verified user who has no row yet."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.models import User, UserPreferences
from app.users import repository
from tests.support.locks import backend_pid, wait_until_blocked, wait_until_waiting


async def count(db: AsyncSession, model: Any, **where: Any) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return int(await db.scalar(query) or 0)


async def test_first_request_creates_user_and_default_preferences(
    client: httpx.AsyncClient, auth_headers: Any, db: AsyncSession
) -> None:
    response = await client.get("/api/v1/users/me", headers=auth_headers("user_jit"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["clerk_user_id"] == "user_jit"
    assert body["email"] is None and body["display_name"] is None  # the webhook fills these in
    user = (await db.execute(select(User).where(User.clerk_user_id == "user_jit"))).scalar_one()
    assert str(user.id) == body["id"]
    assert user.clerk_updated_at is None
    assert await count(db, UserPreferences, user_id=user.id) == 1


async def test_later_requests_reuse_the_row(
    client: httpx.AsyncClient, auth_headers: Any, db: AsyncSession
) -> None:
    ids = {
        (await client.get("/api/v1/users/me", headers=auth_headers("user_jit"))).json()["id"]
        for _ in range(3)
    }
    assert len(ids) == 1
    assert await count(db, User) == 1


async def test_concurrent_first_requests_create_one_user(
    client: httpx.AsyncClient, auth_headers: Any, db: AsyncSession, engine: AsyncEngine
) -> None:
    """Eight first requests are held inside their provisioning transactions at once (each waits on a
    row the test inserted and has not committed), then released together to race each other."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as holder:
        holder_pid = await backend_pid(holder)
        await repository.provision(holder, "user_race")  # uncommitted: every request's insert waits
        requests = [
            asyncio.ensure_future(client.get(path, headers=auth_headers("user_race")))
            for path in ["/api/v1/users/me"] * 6 + ["/api/v1/users/me/preferences"] * 2
        ]
        await wait_until_waiting(engine, on=holder_pid, count=8)
        assert not any(request.done() for request in requests)
        await holder.rollback()  # the held row goes away: the eight requests race for the insert
    responses = await asyncio.wait_for(asyncio.gather(*requests), timeout=10)
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses[:6]}) == 1
    assert await count(db, User, clerk_user_id="user_race") == 1
    assert await count(db, UserPreferences) == 1


async def test_provision_waits_for_a_racing_transaction_and_reads_its_row(engine: AsyncEngine) -> None:
    """Deterministic version of the race: B's insert blocks on A's uncommitted row, then reads it."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as first, sessions() as second:
        first_pid, second_pid = await backend_pid(first), await backend_pid(second)
        created = await repository.provision(first, "user_race")  # inserted, not committed yet
        racing = asyncio.ensure_future(repository.provision(second, "user_race"))
        # PostgreSQL reports B waiting on A's lock: both are inside the provisioning transaction.
        await wait_until_blocked(engine, second_pid, by=first_pid, task=racing)
        await first.commit()
        found = await asyncio.wait_for(racing, timeout=5)
        await second.commit()
    assert found.id == created.id


async def test_provision_after_a_rolled_back_racer_inserts_itself(
    engine: AsyncEngine, db: AsyncSession
) -> None:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as first, sessions() as second:
        first_pid, second_pid = await backend_pid(first), await backend_pid(second)
        await repository.provision(first, "user_race")
        racing = asyncio.ensure_future(repository.provision(second, "user_race"))
        await wait_until_blocked(engine, second_pid, by=first_pid, task=racing)
        await first.rollback()
        found = await asyncio.wait_for(racing, timeout=5)
        await second.commit()
    assert await count(db, User) == 1
    assert await count(db, UserPreferences, user_id=found.id) == 1


async def test_users_are_told_apart_by_sub(client: httpx.AsyncClient, auth_headers: Any) -> None:
    a = (await client.get("/api/v1/users/me", headers=auth_headers("user_a"))).json()
    b = (await client.get("/api/v1/users/me", headers=auth_headers("user_b"))).json()
    assert a["id"] != b["id"]
    assert (a["clerk_user_id"], b["clerk_user_id"]) == ("user_a", "user_b")
