"""Time zones: the API accepts only zones the database knows (pg_timezone_names), and one user row
with a zone it does not know no longer fails the nightly sweep for everyone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import available_timezones

import httpx
import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.jobs import JobContext
from app.models import User
from app.planning.repository.progress import users_due
from app.planning.tasks import nightly_user
from app.runtime import create_resources

ME = "/api/v1/users/me"
GOAL = {"title": "Sleep earlier", "goal_type": "abstract", "value_category": "health"}


async def zones_python_knows_but_not_the_database(db: AsyncSession) -> list[str]:
    known = set((await db.execute(text("SELECT name FROM pg_timezone_names"))).scalars())
    return sorted(available_timezones() - known - {"localtime"})


async def test_a_zone_the_database_does_not_know_is_refused(
    client: httpx.AsyncClient, auth_headers: Any, db: AsyncSession
) -> None:
    headers = auth_headers("user_tz")
    unknown = await zones_python_knows_but_not_the_database(db)
    if not unknown:  # the embedded PostgreSQL 16.2 lacks e.g. America/Coyhaique (tzdata 2025b)
        pytest.skip("this database knows every zone of the bundled tzdata")
    response = await client.patch(ME, json={"timezone": unknown[0]}, headers=headers)
    assert response.status_code == 422, response.text
    detail = response.json()["error"]["details"][0]
    assert detail["field"] == "timezone" and "not known to the database" in detail["message"]
    assert (await client.get(ME, headers=headers)).json()["timezone"] == "UTC"  # unchanged
    for name in ("Mars/Olympus_Mons", "EST5EDT,M3.2.0,M11.1.0", ""):  # unknown to both
        assert (await client.patch(ME, json={"timezone": name}, headers=headers)).status_code == 422
    ok = await client.patch(ME, json={"timezone": "Pacific/Tongatapu"}, headers=headers)
    assert ok.status_code == 200 and ok.json()["timezone"] == "Pacific/Tongatapu"


async def test_one_bad_zone_in_the_database_does_not_stop_the_sweep(
    client: httpx.AsyncClient, auth_headers: Any, db: AsyncSession, engine: AsyncEngine, settings: Any
) -> None:
    """Issue 12: ``timezone(users.timezone, ...)`` raised for one unknown zone, so the sweep query
    failed and nobody's nightly run happened. Such a user's day is now computed in UTC."""
    for sub, zone in (("user_ok", "Asia/Tokyo"), ("user_bad", "UTC"), ("user_utc", "UTC")):
        headers = auth_headers(sub)
        assert (await client.patch(ME, json={"timezone": zone}, headers=headers)).status_code == 200
        assert (await client.post("/api/v1/goals", json=GOAL, headers=headers)).status_code == 201
    await db.execute(
        update(User).where(User.clerk_user_id == "user_bad").values(timezone="Mars/Olympus_Mons")
    )
    await db.execute(text("UPDATE goals SET created_at = created_at - interval '3 days'"))
    await db.commit()

    sessions = async_sessionmaker(engine, expire_on_commit=False)
    now = datetime.now(UTC)
    async with sessions() as session:
        due = dict(await users_due(session, now, 100))
    ids = {
        sub: (
            await db.execute(text("SELECT id FROM users WHERE clerk_user_id = :s"), {"s": sub})
        ).scalar_one()
        for sub in ("user_ok", "user_bad", "user_utc")
    }
    utc_yesterday = now.date() - timedelta(days=1)
    assert due[ids["user_utc"]] == utc_yesterday
    assert due[ids["user_bad"]] == utc_yesterday  # computed in UTC, not an error
    tokyo_yesterday = (now + timedelta(hours=9)).date() - timedelta(days=1)
    assert due[ids["user_ok"]] == tokyo_yesterday

    # The nightly run of the user with the bad zone works too (its local day is UTC's).
    resources = create_resources(settings)
    try:
        assert resources.redis is not None
        ctx = JobContext(settings, resources, resources.redis)
        result = await nightly_user(ctx, str(ids["user_bad"]), now.isoformat())
    finally:
        await resources.close()
    assert result is not None and result["today"] == now.date().isoformat()
