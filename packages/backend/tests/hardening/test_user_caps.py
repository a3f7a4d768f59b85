"""Per-user caps (settings): memories, goals, missions per goal, and memory metadata also after a
duplicate write merges into it. Beyond a cap: 409 limit_reached (422 for metadata), nothing written."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.models import Goal, Memory, Mission, User
from app.planning.nightly import run_nightly
from tests.auth.conftest import ApiFactory

GOAL = {"title": "Write a novel", "goal_type": "concrete", "value_category": "craft"}


def assert_limit(response: httpx.Response, resource: str, limit: int) -> None:
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "limit_reached"
    assert error["details"] == {"resource": resource, "limit": limit}


async def count(db: AsyncSession, model: Any, *where: Any) -> int:
    db.expire_all()
    return int(await db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_memories_per_user(api: ApiFactory, auth_headers: Any, db: AsyncSession) -> None:
    client = await api(max_memories_per_user=3)
    headers = auth_headers("user_mem")
    texts = ["I love tea", "My sister is Ana", "I run on Sundays"]
    for text in texts:
        response = await client.post(
            "/api/v1/memories", json={"tier": "personal", "content": text}, headers=headers
        )
        assert response.status_code == 201
    over = await client.post(
        "/api/v1/memories", json={"tier": "personal", "content": "I play chess"}, headers=headers
    )
    assert_limit(over, "memories", 3)
    assert await count(db, Memory) == 3
    # Storing something the user already has only refreshes it: allowed at the cap.
    again = await client.post(
        "/api/v1/memories", json={"tier": "personal", "content": "i love TEA"}, headers=headers
    )
    assert again.status_code == 200 and again.json()["created"] is False
    # The cap is per user.
    other = await client.post(
        "/api/v1/memories",
        json={"tier": "personal", "content": "I play chess"},
        headers=auth_headers("user_b"),
    )
    assert other.status_code == 201


async def test_concurrent_writes_do_not_overshoot_the_memory_cap(
    api: ApiFactory, auth_headers: Any, db: AsyncSession
) -> None:
    client = await api(max_memories_per_user=2)
    headers = auth_headers("user_race")
    topics = ["chess", "tea", "running", "painting", "cello", "hiking"]
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/v1/memories", json={"tier": "task", "content": f"Planned {t} today"}, headers=headers
            )
            for t in topics
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 201, 409, 409, 409, 409]
    assert await count(db, Memory) == 2


async def test_metadata_cannot_grow_past_the_limit_through_duplicate_writes(
    api: ApiFactory, auth_headers: Any, db: AsyncSession
) -> None:
    """Issue 12: each duplicate write merged new keys into the stored row, growing it without bound."""
    client = await api(max_memory_metadata_bytes=300)
    headers = auth_headers("user_meta")
    body = {"tier": "personal", "content": "I keep a journal", "metadata": {"a": "x" * 200}}
    first = await client.post("/api/v1/memories", json=body, headers=headers)
    assert first.status_code == 201
    same_keys = await client.post(
        "/api/v1/memories", json={**body, "metadata": {"a": "y" * 200}}, headers=headers
    )
    assert same_keys.status_code == 200  # replacing a key keeps the size
    grown = await client.post(
        "/api/v1/memories", json={**body, "metadata": {"b": "z" * 200}}, headers=headers
    )
    assert grown.status_code == 422, grown.text
    detail = grown.json()["error"]["details"][0]
    assert detail["field"] == "metadata" and "merged" in detail["message"]
    db.expire_all()
    stored = (await db.scalars(select(Memory))).one()
    assert stored.meta == {"a": "y" * 200}
    too_big = await client.post(
        "/api/v1/memories", json={**body, "content": "new", "metadata": {"c": "w" * 400}}, headers=headers
    )
    assert too_big.status_code == 422
    patched = await client.patch(
        f"/api/v1/memories/{first.json()['id']}", json={"metadata": {"c": "w" * 400}}, headers=headers
    )
    assert patched.status_code == 422


async def test_goals_per_user_archived_ones_included(
    api: ApiFactory, auth_headers: Any, db: AsyncSession
) -> None:
    client = await api(max_goals_per_user=2)
    headers = auth_headers("user_goals")
    first = (await client.post("/api/v1/goals", json=GOAL, headers=headers)).json()
    assert (await client.post("/api/v1/goals", json=GOAL, headers=headers)).status_code == 201
    assert (await client.delete(f"/api/v1/goals/{first['id']}", headers=headers)).status_code == 204
    assert_limit(await client.post("/api/v1/goals", json=GOAL, headers=headers), "goals", 2)
    assert await count(db, Goal) == 2
    assert (await client.post("/api/v1/goals", json=GOAL, headers=auth_headers("user_b"))).status_code == 201


async def test_concurrent_goal_creation_does_not_overshoot(
    api: ApiFactory, auth_headers: Any, db: AsyncSession
) -> None:
    client = await api(max_goals_per_user=3)
    headers = auth_headers("user_rush")
    await client.get("/api/v1/users/me", headers=headers)  # provisioned once, before the rush
    responses = await asyncio.gather(
        *(client.post("/api/v1/goals", json=GOAL, headers=headers) for _ in range(8))
    )
    assert sorted(r.status_code for r in responses) == [201] * 3 + [409] * 5
    assert await count(db, Goal) == 3


async def test_missions_per_goal_manual_and_approved(
    api: ApiFactory, auth_headers: Any, db: AsyncSession
) -> None:
    client = await api(max_missions_per_goal=4)
    headers = auth_headers("user_missions")
    goal = (await client.post("/api/v1/goals", json=GOAL, headers=headers)).json()
    # A decomposition proposes more missions than fit: approving it is refused, nothing saved.
    proposal = (await client.post(f"/api/v1/goals/{goal['id']}/decompose", headers=headers)).json()
    assert proposal["mission_count"] > 4
    approve = f"/api/v1/goals/{goal['id']}/decompositions/{proposal['id']}/approve"
    assert_limit(await client.post(approve, headers=headers), "missions per goal", 4)
    assert await count(db, Mission) == 0
    mission = {
        "goal_id": goal["id"],
        "title": "Outline chapter one",
        "estimated_minutes": 30,
        "energy_level": "medium",
    }
    for _ in range(4):
        assert (await client.post("/api/v1/missions", json=mission, headers=headers)).status_code == 201
    assert_limit(await client.post("/api/v1/missions", json=mission, headers=headers), "missions per goal", 4)
    assert await count(db, Mission) == 4
    # Another goal has its own room.
    second = (await client.post("/api/v1/goals", json=GOAL, headers=headers)).json()
    assert (
        await client.post("/api/v1/missions", json={**mission, "goal_id": second["id"]}, headers=headers)
    ).status_code == 201


async def test_the_nightly_top_up_stops_at_the_cap(
    api: ApiFactory, auth_headers: Any, db: AsyncSession, engine: AsyncEngine
) -> None:
    client = await api()
    headers = auth_headers("user_nightly")
    goal = (await client.post("/api/v1/goals", json=GOAL, headers=headers)).json()
    mission = {"goal_id": goal["id"], "title": "Write a page", "estimated_minutes": 20, "energy_level": "low"}
    for _ in range(2):
        assert (await client.post("/api/v1/missions", json=mission, headers=headers)).status_code == 201
    user_id = (await db.execute(select(User.id).where(User.clerk_user_id == "user_nightly"))).scalar_one()
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        result = await run_nightly(session, user_id, datetime.now(UTC), 5, 3)
    assert result is not None and result.missions_added == 1  # 5 pending wanted, room for 1
    assert await count(db, Mission, Mission.goal_id == uuid.UUID(goal["id"])) == 3
