"""Goals over the API: CRUD, archiving, status rules, bad input and the goal's project memory."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Memory, MemoryTier
from tests.goals.support import Api, FakeClock


async def test_create_get_and_list_a_goal(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    goal = await me.goal(title="  Learn Spanish  ", target_date="2025-06-01", value_category="growth")
    assert goal["title"] == "Learn Spanish"
    assert goal["status"] == "active"
    assert goal["importance"] == 4
    assert goal["created_at"].startswith("2025-01-15")  # the injected clock

    detail = await me.get(f"/goals/{goal['id']}")
    assert detail["milestones"] == []
    assert detail["mission_counts"] == {
        "pending": 0,
        "in_progress": 0,
        "completed": 0,
        "deferred": 0,
        "archived": 0,
    }
    page = await me.get("/goals")
    assert page["total"] == 1
    assert [item["id"] for item in page["items"]] == [goal["id"]]


async def test_patch_changes_fields_and_clears_the_target_date(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    goal = await me.goal(target_date="2025-03-01")
    changed = await me.patch(
        f"/goals/{goal['id']}", {"title": "Run a half marathon", "importance": 5, "target_date": None}
    )
    assert changed["title"] == "Run a half marathon"
    assert changed["importance"] == 5
    assert changed["target_date"] is None
    assert changed["description"] == goal["description"]


async def test_delete_archives_and_archived_goals_are_hidden_unless_asked_for(
    api: Any, clock: FakeClock
) -> None:
    me: Api = api("user_a")
    kept = await me.goal(title="Keep me")
    gone = await me.goal(title="Archive me")
    mission = await me.mission(gone["id"])

    await me.delete(f"/goals/{gone['id']}")
    await me.delete(f"/goals/{gone['id']}")  # idempotent

    assert [g["id"] for g in (await me.get("/goals"))["items"]] == [kept["id"]]
    with_archived = await me.get("/goals", params={"include_archived": "true"})
    assert {g["id"] for g in with_archived["items"]} == {kept["id"], gone["id"]}
    only_archived = await me.get("/goals", params={"status": "archived"})
    assert [g["id"] for g in only_archived["items"]] == [gone["id"]]

    archived = await me.get(f"/goals/{gone['id']}")
    assert archived["status"] == "archived"
    assert archived["archived_at"] is not None
    # Its open missions are archived with it.
    assert (await me.get(f"/missions/{mission['id']}"))["status"] == "archived"


async def test_goal_status_rules(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    path = f"/goals/{goal['id']}"
    assert (await me.patch(path, {"status": "paused"}))["status"] == "paused"
    assert (await me.patch(path, {"status": "active"}))["status"] == "active"
    completed = await me.patch(path, {"status": "completed"})
    assert completed["completed_at"] is not None
    error = await me.patch(path, {"status": "paused"}, expect=409)
    assert error["error"]["code"] == "illegal_transition"
    await me.delete(path)
    error = await me.patch(path, {"status": "completed"}, expect=409)
    assert error["error"]["details"] == {"status": "archived", "target": "completed", "allowed": ["active"]}
    restored = await me.patch(path, {"status": "active"})
    assert restored["status"] == "active"
    assert restored["archived_at"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"goal_type": "vague"}, "goal_type"),
        ({"value_category": "wealth"}, "value_category"),
        ({"importance": 0}, "importance"),
        ({"importance": 6}, "importance"),
        ({"importance": "3"}, "importance"),
        ({"importance": True}, "importance"),
        ({"target_date": "next week"}, "target_date"),
        ({"description": "x" * 5001}, "description"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_bad_goal_input_is_422_naming_the_field(
    api: Any, clock: FakeClock, body: dict[str, Any], field: str
) -> None:
    me: Api = api("user_a")
    payload = {"title": "Run", "goal_type": "concrete", "value_category": "health", **body}
    error = await me.post("/goals", payload, expect=422)
    assert error["error"]["code"] == "validation_error"
    assert field in {detail["field"] for detail in error["error"]["details"]}


async def test_missing_fields_and_past_target_dates_are_rejected(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    error = await me.post("/goals", {"title": "Run"}, expect=422)
    assert {"goal_type", "value_category"} <= {d["field"] for d in error["error"]["details"]}
    error = await me.post(
        "/goals",
        {"title": "Run", "goal_type": "concrete", "value_category": "health", "target_date": "2025-01-14"},
        expect=422,
    )
    assert error["error"]["details"][0]["field"] == "target_date"
    goal = await me.goal()
    error = await me.patch(f"/goals/{goal['id']}", {"title": None}, expect=422)
    assert error["error"]["code"] == "validation_error"
    await me.patch(f"/goals/{goal['id']}", {"status": "gone"}, expect=422)
    await me.get("/goals/not-a-uuid", expect=422)
    await me.get(f"/goals/{uuid.uuid4()}", expect=404)
    await me.get("/goals", params={"limit": 0}, expect=422)
    await me.get("/goals", params={"status": "deleted"}, expect=422)


async def test_target_date_in_the_users_time_zone(api: Any, clock: FakeClock) -> None:
    """It is already 16 January in Tongatapu when it is 15 January 17:00 in UTC."""
    me: Api = api("user_a")
    await me.set_timezone("Pacific/Tongatapu")
    error = await me.post(
        "/goals",
        {"title": "Run", "goal_type": "concrete", "value_category": "health", "target_date": "2025-01-15"},
        expect=422,
    )
    assert "2025-01-16" in error["error"]["details"][0]["message"]


async def project_memories(db: AsyncSession, goal_id: str) -> list[Memory]:
    db.expire_all()
    rows = await db.execute(
        select(Memory).where(Memory.goal_id == uuid.UUID(goal_id), Memory.tier == MemoryTier.project)
    )
    return list(rows.scalars())


async def test_a_goal_lives_in_project_memory(api: Any, clock: FakeClock, db: AsyncSession) -> None:
    me: Api = api("user_a")
    goal = await me.goal(title="Write a novel", description="A mystery set in Lisbon", value_category="craft")
    [memory] = await project_memories(db, goal["id"])
    assert "Write a novel" in memory.content and "Lisbon" in memory.content
    assert memory.source == "goal"
    assert memory.archived_at is None

    await me.patch(f"/goals/{goal['id']}", {"title": "Write a short novel"})
    [memory] = await project_memories(db, goal["id"])  # rewritten, not duplicated
    assert "Write a short novel" in memory.content

    await me.delete(f"/goals/{goal['id']}")
    [memory] = await project_memories(db, goal["id"])
    assert memory.archived_at is not None

    await me.patch(f"/goals/{goal['id']}", {"status": "active"})
    [memory] = await project_memories(db, goal["id"])
    assert memory.archived_at is None


async def test_the_goal_memory_comes_back_if_the_user_deleted_it(
    api: Any, clock: FakeClock, db: AsyncSession
) -> None:
    me: Api = api("user_a")
    goal = await me.goal(title="Meditate daily", goal_type="abstract", value_category="growth")
    [memory] = await project_memories(db, goal["id"])
    await me.delete(f"/memories/{memory.id}")
    await me.patch(f"/goals/{goal['id']}", {"description": "Ten minutes after breakfast"})
    [memory] = await project_memories(db, goal["id"])
    assert "Ten minutes after breakfast" in memory.content
