"""Session notes become task memories, reflections personal memories."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Memory, MemoryTier
from tests.goals.support import Api, FakeClock


async def memories(db: AsyncSession, source: str) -> list[Memory]:
    db.expire_all()
    rows = await db.execute(select(Memory).where(Memory.source == source).order_by(Memory.created_at))
    return list(rows.scalars())


async def test_notes_and_reflections_become_memories(api: Any, clock: FakeClock, db: AsyncSession) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    mission = await me.mission(goal["id"], title="Jog to the river")
    done = await me.finish(
        mission["id"],
        {"notes": "Knee felt fine after 2 km", "reflection": "I like running at dawn", "mood": "calm"},
    )

    [note] = await memories(db, "mission_notes")
    assert note.tier == MemoryTier.task
    assert "Knee felt fine after 2 km" in note.content and "Jog to the river" in note.content
    assert note.goal_id == uuid.UUID(goal["id"])
    assert note.meta["mission_id"] == mission["id"] and note.meta["session_id"] == done["session"]["id"]

    [reflection] = await memories(db, "mission_reflection")
    assert reflection.tier == MemoryTier.personal
    assert "I like running at dawn" in reflection.content
    assert reflection.meta["mood"] == "calm"
    assert reflection.meta["goal_id"] == goal["id"]


async def test_notes_given_when_deferring_or_abandoning_are_remembered(
    api: Any, clock: FakeClock, db: AsyncSession
) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    first = await me.mission(goal["id"], title="First")
    second = await me.mission(goal["id"], title="Second")
    await me.post(f"/missions/{first['id']}/start")
    await me.post(f"/missions/{first['id']}/defer", {"notes": "Rain, trying tomorrow"})
    await me.post(f"/missions/{second['id']}/start")
    await me.post(f"/missions/{second['id']}/abandon", {"notes": "Not the right exercise for me"})
    contents = [m.content for m in await memories(db, "mission_notes")]
    assert any("Rain, trying tomorrow" in c for c in contents)
    assert any("Not the right exercise for me" in c for c in contents)
    # Without notes or a reflection nothing is written.
    third = await me.mission(goal["id"], title="Third")
    await me.finish(third["id"])
    assert len(await memories(db, "mission_notes")) == 2
    assert await memories(db, "mission_reflection") == []


async def test_archiving_a_goal_closes_its_running_session(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    mission = await me.mission(goal["id"])
    await me.post(f"/missions/{mission['id']}/start")
    clock.advance(minutes=5)
    await me.delete(f"/goals/{goal['id']}")
    detail = await me.get(f"/missions/{mission['id']}")
    assert detail["status"] == "archived"
    [session] = detail["sessions"]
    assert session["outcome"] == "abandoned" and session["ended_at"] == "2025-01-15T17:05:00Z"
