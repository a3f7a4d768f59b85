"""A week in the life, through the API and the worker: goal → decomposition → approval → triad →
start → complete → streak, snapshots and the DCI (the README's walk-through)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from arq.connections import RedisSettings, create_pool

from app.core.config import Settings
from app.planning.tasks import nightly_sweep
from tests.goals.support import LOS_ANGELES, Api, FakeClock
from tests.support.worker import run_burst_worker


async def nightly(settings: Settings, now: str) -> None:
    assert settings.redis_url
    pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        await nightly_sweep.enqueue(pool, now, job_id=f"sweep-{now}")
    finally:
        await pool.aclose()
    worker = await run_burst_worker(settings, cron_jobs=[])
    assert worker.jobs_failed == 0


async def test_a_week_with_delight(api: Any, clock: FakeClock, settings: Settings) -> None:
    me: Api = api("user_walkthrough")
    await me.set_timezone(LOS_ANGELES)
    clock.set_local(LOS_ANGELES, 2025, 1, 13, 8, 0)
    goal = await me.goal(title="Run a 10k by June", target_date="2025-06-01", value_category="health")
    proposal = await me.post(f"/goals/{goal['id']}/decompose", expect=201)
    approval = await me.post(f"/goals/{goal['id']}/decompositions/{proposal['id']}/approve", expect=201)
    assert len(approval["missions"]) == proposal["mission_count"]

    balance = 0
    for day in range(7):
        triad = await me.get("/missions/triad")
        assert triad["date"] == f"2025-01-{13 + day}"
        assert [entry["slot"] for entry in triad["missions"]] == ["high", "medium", "low"]
        mission = triad["missions"][0]["mission"]
        started = await me.post(f"/missions/{mission['id']}/start")
        assert started["session"]["ended_at"] is None
        clock.advance(minutes=mission["estimated_minutes"])
        done = await me.post(
            f"/missions/{mission['id']}/complete", {"notes": f"Day {day + 1} done", "mood": "energized"}
        )
        balance += done["essence_earned"]
        assert done["essence_balance"] == balance
        overall = next(s for s in done["streaks"] if s["category"] == "overall")
        assert overall["current"] == day + 1
        if day == 6:
            assert {"category": "overall", "days": 7} in done["streak_milestones"]
        # The night after, in Los Angeles: 00:30 local.
        clock.set(clock.now.replace(hour=8, minute=30) + timedelta(days=1))
        await nightly(settings, clock.now.isoformat())
        snapshot = (await me.get("/progress/daily", params={"date": f"2025-01-{13 + day}"}))["snapshot"]
        assert snapshot is not None and snapshot["missions_completed"] == 1
        clock.advance(hours=8)

    daily = await me.get("/progress/daily")
    assert daily["date"] == "2025-01-20"
    assert daily["essence_balance"] == balance
    assert next(s for s in daily["streaks"] if s["category"] == "overall")["current"] == 7

    report = await me.get("/progress/dci", params={"days": "7"})
    assert report["available"] is True
    assert report["terms"]["streak"] == 7
    assert report["terms"]["completion_rate"] == 1.0
    assert report["terms"]["engagement_depth"] == 1.0
    assert report["terms"]["nudge_response"] == 1.0
    assert report["dci"] == round(0.35 * 7 / 30 + 0.35 + 0.20 + 0.10, 4)
    assert [point["date"] for point in report["history"]] == [f"2025-01-{d}" for d in range(14, 20)]

    detail = await me.get(f"/goals/{goal['id']}")
    assert detail["mission_counts"]["completed"] == 7
    assert detail["mission_counts"]["pending"] >= 5  # kept topped up by the nightly run
