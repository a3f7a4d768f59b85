"""Goals, missions and progress in the user's export, and gone with the account."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.models import (
    DailyProgress,
    DailyTriad,
    DecompositionProposal,
    EssenceTransaction,
    Goal,
    GoalMilestone,
    Mission,
    MissionEvent,
    MissionSession,
    Streak,
    User,
)
from app.planning.nightly import run_nightly
from tests.goals.support import Api, FakeClock

TABLES = [
    Goal,
    GoalMilestone,
    DecompositionProposal,
    Mission,
    MissionSession,
    MissionEvent,
    DailyTriad,
    Streak,
    EssenceTransaction,
    DailyProgress,
]


def test_every_table_is_owned_by_a_user_and_cascades() -> None:
    for model in TABLES:
        [fk] = [fk for fk in model.__table__.c.user_id.foreign_keys]
        assert fk.column.table.name == "users" and fk.ondelete == "CASCADE", model.__tablename__
        assert not model.__table__.c.user_id.nullable


async def fill(me: Api, clock: FakeClock, engine: AsyncEngine, db: AsyncSession) -> uuid.UUID:
    goal = await me.goal()
    approval = await me.plan(goal["id"])
    triad = await me.get("/missions/triad")
    await me.finish(
        triad["missions"][0]["mission"]["id"], {"notes": "good run", "reflection": "proud", "mood": "happy"}
    )
    await me.post(f"/missions/{approval['missions'][-1]['id']}/defer", {"until": "2025-01-20"})
    user_id: uuid.UUID = (await db.execute(select(User.id).where(User.clerk_user_id == me.sub))).scalar_one()
    async with async_sessionmaker(engine)() as session, session.begin():
        await run_nightly(session, user_id, datetime(2025, 1, 16, 1, 0, tzinfo=UTC), 5, 2000)
    return user_id


async def test_the_export_has_goals_missions_and_progress(
    api: Any, clock: FakeClock, engine: AsyncEngine, db: AsyncSession
) -> None:
    me: Api = api("user_a")
    await fill(me, clock, engine, db)
    export = await me.get("/users/me/export")

    goals = export["goals"]
    assert [g["title"] for g in goals["goals"]] == ["Run a 10k"]
    assert len(goals["milestones"]) >= 3
    assert [p["status"] for p in goals["decomposition_proposals"]] == ["approved"]
    assert goals["decomposition_proposals"][0]["plan"]["milestones"]

    missions = export["missions"]
    assert {m["status"] for m in missions["missions"]} >= {"pending", "completed", "deferred"}
    [session] = missions["sessions"]
    assert (session["notes"], session["reflection"], session["mood"]) == ("good run", "proud", "happy")
    assert {e["kind"] for e in missions["events"]} >= {"started", "completed", "deferred"}
    assert missions["daily_triads"][0]["local_date"] == "2025-01-15"

    progress = export["progress"]
    assert progress["essence_balance"] == sum(t["amount"] for t in progress["essence_transactions"]) > 0
    assert {s["category"] for s in progress["streaks"]} == {"overall", "health"}
    assert [s["local_date"] for s in progress["daily_snapshots"]] == ["2025-01-15"]
    assert progress["daily_snapshots"][0]["missions_completed"] == 1


async def test_erasing_the_account_erases_all_of_it(
    api: Any, clock: FakeClock, engine: AsyncEngine, db: AsyncSession
) -> None:
    alice: Api = api("user_alice")
    bob: Api = api("user_bob")
    alice_id = await fill(alice, clock, engine, db)
    bob_id = await fill(bob, clock, engine, db)

    async def rows(user_id: uuid.UUID) -> dict[str, int]:
        counts = {}
        for model in TABLES:
            query = select(func.count()).select_from(model).where(model.user_id == user_id)  # type: ignore[attr-defined]
            counts[model.__tablename__] = int((await db.execute(query)).scalar_one())
        return counts

    before = await rows(alice_id)
    assert all(count > 0 for count in before.values()), before
    await alice.delete("/users/me")
    assert set((await rows(alice_id)).values()) == {0}
    assert await rows(bob_id) == before  # the same story, untouched
