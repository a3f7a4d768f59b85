"""The nightly orchestration: per user in their own time zone, idempotent, and run by a real ARQ
worker in burst mode with the time passed in."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import Any

from arq.connections import ArqRedis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.models import DailyProgress, Goal, Mission, Streak, User
from app.planning import nightly
from app.planning.nightly import run_nightly
from app.planning.tasks import nightly_sweep, nightly_user
from app.workers.main import FUNCTIONS, cron_jobs
from tests.goals.support import LOS_ANGELES, TONGATAPU, Api, FakeClock
from tests.support.worker import run_burst_worker


async def run_worker(settings: Settings) -> Any:
    worker = await run_burst_worker(settings, cron_jobs=[])
    assert worker.jobs_failed == 0
    return worker


async def user_id_of(db: AsyncSession, sub: str) -> uuid.UUID:
    return (await db.execute(select(User.id).where(User.clerk_user_id == sub))).scalar_one()  # type: ignore[no-any-return]


async def pending(db: AsyncSession, goal_id: str) -> list[Mission]:
    db.expire_all()
    rows = await db.execute(
        select(Mission)
        .where(Mission.goal_id == uuid.UUID(goal_id), Mission.status == "pending")
        .order_by(Mission.position)
    )
    return list(rows.scalars())


async def snapshots(db: AsyncSession, user_id: uuid.UUID) -> dict[date, DailyProgress]:
    db.expire_all()
    rows = await db.execute(select(DailyProgress).where(DailyProgress.user_id == user_id))
    return {row.local_date: row for row in rows.scalars()}


def test_the_jobs_are_registered() -> None:
    names = {getattr(function, "__name__", "") for function in FUNCTIONS}
    assert {"nightly_sweep", "nightly_user"} <= names


def test_the_sweep_is_a_cron_that_does_not_run_at_startup(settings: Settings) -> None:
    [sweep] = [job for job in cron_jobs(settings) if job.name.endswith("nightly_sweep")]
    assert sweep.minute == {5, 20, 35, 50}
    assert not sweep.run_at_startup


async def test_the_nightly_run_is_idempotent(
    api: Any, clock: FakeClock, db: AsyncSession, engine: AsyncEngine
) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    paused = await me.goal(title="Paused for now")
    await me.patch(f"/goals/{paused['id']}", {"status": "paused"})
    done = await me.mission(goal["id"], title="Done today")
    later = await me.mission(goal["id"], title="Tomorrow")
    await me.finish(done["id"])
    await me.post(f"/missions/{later['id']}/defer")
    user_id = await user_id_of(db, "user_a")
    now = datetime(2025, 1, 17, 0, 30, tzinfo=UTC)
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async with sessions() as session, session.begin():
        first = await run_nightly(session, user_id, now, 5, 2000)
    assert first is not None
    assert first.today == date(2025, 1, 17)
    assert first.reactivated == 1  # "Tomorrow" was deferred to the 16th
    assert first.streaks_reset == 2  # no completion on the 16th: overall and health reset
    assert first.snapshots == ["2025-01-15", "2025-01-16"]
    assert first.missions_added == 4  # "Tomorrow" is pending again: four more make five

    after_first = [(m.title, m.generation_key) for m in await pending(db, goal["id"])]
    assert len(after_first) == 5
    assert await pending(db, paused["id"]) == []
    shots = await snapshots(db, user_id)
    assert shots[date(2025, 1, 15)].missions_completed == 1
    assert shots[date(2025, 1, 16)].missions_completed == 0
    streak = (
        await db.execute(select(Streak).where(Streak.user_id == user_id, Streak.category == "overall"))
    ).scalar_one()
    assert (streak.current_length, streak.longest_length) == (0, 1)

    async with sessions() as session, session.begin():
        second = await run_nightly(session, user_id, now, 5, 2000)
    assert second is not None
    assert (second.reactivated, second.streaks_reset, second.snapshots, second.missions_added) == (
        0,
        0,
        [],
        0,
    )
    assert [(m.title, m.generation_key) for m in await pending(db, goal["id"])] == after_first
    assert len(await snapshots(db, user_id)) == 2


async def test_concurrent_top_ups_do_not_duplicate(
    api: Any, clock: FakeClock, db: AsyncSession, engine: AsyncEngine
) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def top_up() -> int:
        async with sessions() as session, session.begin():
            row = (await session.execute(select(Goal).where(Goal.id == uuid.UUID(goal["id"])))).scalar_one()
            return await nightly.top_up_goal(session, row, 5, 2000)

    added = await asyncio.gather(top_up(), top_up(), top_up())
    assert sorted(added) == [0, 0, 5]
    rows = await pending(db, goal["id"])
    assert sorted(m.generation_key or "" for m in rows) == [f"topup-{n}" for n in range(5)]
    assert all(m.source == "orchestrator" and 10 <= m.estimated_minutes <= 30 for m in rows)

    # Completing one and topping up again adds exactly the next key.
    await me.finish(str(rows[0].id))
    added = await asyncio.gather(top_up(), top_up())
    assert sorted(added) == [0, 1]
    assert sorted(m.generation_key or "" for m in await pending(db, goal["id"]))[-1] == "topup-5"


async def test_a_real_worker_runs_each_user_after_their_own_midnight(
    api: Any, clock: FakeClock, db: AsyncSession, settings: Settings, pool: ArqRedis
) -> None:
    la: Api = api("user_la")
    to: Api = api("user_to")
    await la.set_timezone(LOS_ANGELES)
    await to.set_timezone(TONGATAPU)
    clock.set_local(LOS_ANGELES, 2025, 1, 15, 9, 0)
    la_goal = await la.goal()
    clock.set_local(TONGATAPU, 2025, 1, 15, 9, 0)
    to_goal = await to.goal()
    clock.set_local(TONGATAPU, 2025, 1, 15, 23, 0)  # 10:00 UTC on the 15th
    await to.finish((await to.mission(to_goal["id"]))["id"])
    clock.set_local(LOS_ANGELES, 2025, 1, 15, 23, 30)  # 07:30 UTC on the 16th
    await la.finish((await la.mission(la_goal["id"]))["id"])
    la_id, to_id = await user_id_of(db, "user_la"), await user_id_of(db, "user_to")

    # 18:00 UTC on the 15th: 07:00 on the 16th in Tongatapu, 10:00 on the 15th in Los Angeles.
    await nightly_sweep.enqueue(pool, "2025-01-15T18:00:00+00:00")
    worker = await run_worker(settings)
    assert worker.jobs_complete == 2  # the sweep and Tongatapu's nightly run
    assert list(await snapshots(db, to_id)) == [date(2025, 1, 15)]
    assert (await snapshots(db, to_id))[date(2025, 1, 15)].missions_completed == 1
    assert await snapshots(db, la_id) == {}
    assert len(await pending(db, to_goal["id"])) == 5
    assert len(await pending(db, la_goal["id"])) == 0

    # The same instant again: nobody is due any more.
    await nightly_sweep.enqueue(pool, "2025-01-15T18:00:00+00:00", job_id="sweep-again")
    worker = await run_worker(settings)
    assert worker.jobs_complete == 1

    # 08:30 UTC on the 16th: 00:30 in Los Angeles; Tongatapu already has its snapshot.
    await nightly_sweep.enqueue(pool, "2025-01-16T08:30:00+00:00")
    await run_worker(settings)
    la_shots = await snapshots(db, la_id)
    assert list(la_shots) == [date(2025, 1, 15)]
    assert la_shots[date(2025, 1, 15)].missions_completed == 1  # 23:30 local counts for the 15th
    assert len(await pending(db, la_goal["id"])) == 5
    assert list(await snapshots(db, to_id)) == [date(2025, 1, 15)]


async def test_the_nightly_job_twice_changes_nothing_the_second_time(
    api: Any, clock: FakeClock, db: AsyncSession, settings: Settings, pool: ArqRedis
) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    await me.finish((await me.mission(goal["id"]))["id"])
    user_id = await user_id_of(db, "user_a")
    for job_id in ("first", "second"):
        await nightly_user.enqueue(pool, str(user_id), "2025-01-16T01:00:00+00:00", job_id=job_id)
    worker = await run_worker(settings)
    assert worker.jobs_complete == 2
    results = sorted((await pool.all_job_results()), key=lambda r: r.job_id)
    assert [r.result["missions_added"] for r in results] in ([5, 0], [0, 5])
    assert [r.result["snapshots"] for r in results] in ([["2025-01-15"], []], [[], ["2025-01-15"]])
    assert len(await pending(db, goal["id"])) == 5
    assert len(await snapshots(db, user_id)) == 1
    count = (await db.execute(select(func.count()).select_from(Mission))).scalar_one()
    assert count == 6


async def test_the_nightly_run_while_a_goal_is_archived_and_the_triad_computed_never_deadlocks(
    api: Any,
    clock: FakeClock,
    client: Any,
    auth_headers: Any,
    db: AsyncSession,
    engine: AsyncEngine,
) -> None:
    """The nightly run locks every goal it writes missions of at once, in id order (the lock
    order of docs/goals.md), like the triad and unlike one goal after another by age."""
    me: Api = api("user_a")
    headers = auth_headers("user_a")
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    kept = await me.goal(title="Learn Spanish", value_category="growth")
    user_id = await user_id_of(db, "user_a")

    async def nightly(at: datetime) -> None:
        async with sessions() as session, session.begin():
            await run_nightly(session, user_id, at, 5, 2000)

    for _ in range(4):
        goals = [kept, await me.goal(), await me.goal(title="Write a novel", value_category="craft")]
        for goal in goals:
            for n in range(2):
                mission = await me.mission(goal["id"], title=f"Step {n}")
                await me.post(f"/missions/{mission['id']}/defer")
        now = clock.advance(days=1)  # the deferred missions are due
        _, archive, triad = await asyncio.gather(
            nightly(now),
            client.delete(f"/api/v1/goals/{goals[1]['id']}", headers=headers),
            client.get("/api/v1/missions/triad", headers=headers),
        )
        assert archive.status_code == 204, archive.text
        assert triad.status_code == 200, triad.text

        archived = await me.get("/missions", params={"goal_id": goals[1]["id"], "limit": 200})
        assert {mission["status"] for mission in archived["items"]} == {"archived"}
        for goal in (goals[0], goals[2]):
            assert len(await pending(db, goal["id"])) >= 5
        await me.delete(f"/goals/{goals[2]['id']}")
