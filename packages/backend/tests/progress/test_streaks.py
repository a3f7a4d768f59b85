"""Streaks and Essence: local days in the user's time zone, categories, milestones reported once."""

from __future__ import annotations

from typing import Any

from tests.goals.support import LOS_ANGELES, TONGATAPU, Api, FakeClock


async def complete_one(me: Api, goal_id: str, title: str = "Mission", **body: Any) -> dict[str, Any]:
    mission = await me.mission(goal_id, title=title)
    return await me.finish(mission["id"], body or None)


def streak(result: dict[str, Any], category: str = "overall") -> dict[str, Any]:
    return next(s for s in result["streaks"] if s["category"] == category)


async def test_los_angeles_days_split_where_utc_does_not(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_la")
    await me.set_timezone(LOS_ANGELES)
    clock.set_local(LOS_ANGELES, 2025, 1, 15, 22, 0)
    goal = await me.goal()
    clock.set_local(LOS_ANGELES, 2025, 1, 15, 23, 30)  # 07:30 UTC on the 16th
    first = await complete_one(me, goal["id"], "Late evening")
    assert first["mission"]["completed_on"] == "2025-01-15"
    assert streak(first) == {
        "category": "overall",
        "current": 1,
        "longest": 1,
        "last_active_on": "2025-01-15",
    }
    clock.set_local(LOS_ANGELES, 2025, 1, 16, 0, 30)  # 08:30 UTC, the same UTC day
    second = await complete_one(me, goal["id"], "Just after midnight")
    assert second["mission"]["completed_on"] == "2025-01-16"
    assert streak(second)["current"] == 2
    assert streak(second, "health")["current"] == 2


async def test_tongatapu_days_join_where_utc_splits(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_to")
    await me.set_timezone(TONGATAPU)
    clock.set_local(TONGATAPU, 2025, 1, 16, 0, 10)
    goal = await me.goal()
    clock.set_local(TONGATAPU, 2025, 1, 16, 0, 30)  # 11:30 UTC on the 15th
    first = await complete_one(me, goal["id"], "Early")
    clock.set_local(TONGATAPU, 2025, 1, 16, 23, 30)  # 10:30 UTC on the 16th
    second = await complete_one(me, goal["id"], "Late")
    assert first["mission"]["completed_on"] == second["mission"]["completed_on"] == "2025-01-16"
    assert streak(second)["current"] == 1
    clock.set_local(TONGATAPU, 2025, 1, 17, 0, 10)
    third = await complete_one(me, goal["id"], "Next day")
    assert streak(third)["current"] == 2

    daily = await me.get("/progress/daily")
    assert daily["date"] == "2025-01-17" and daily["timezone"] == TONGATAPU
    assert daily["missions_completed"] == 1
    previous = await me.get("/progress/daily", params={"date": "2025-01-16"})
    assert previous["missions_completed"] == 2


async def test_a_missed_day_breaks_the_streak_but_not_the_record(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    await complete_one(me, goal["id"], "Day 1")
    clock.advance(days=1)
    await complete_one(me, goal["id"], "Day 2")
    clock.advance(days=1)
    daily = await me.get("/progress/daily")
    assert streak(daily)["current"] == 2  # alive until the day ends without a completion
    clock.advance(days=1)
    daily = await me.get("/progress/daily")
    assert streak(daily) == {
        "category": "overall",
        "current": 0,
        "longest": 2,
        "last_active_on": "2025-01-16",
    }
    again = await complete_one(me, goal["id"], "Day 4")
    assert streak(again)["current"] == 1 and streak(again)["longest"] == 2


async def test_categories_have_their_own_streaks(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    health = await me.goal()
    craft = await me.goal(title="Draw", value_category="craft")
    await complete_one(me, health["id"], "Run")
    clock.advance(days=1)
    result = await complete_one(me, craft["id"], "Sketch")
    assert [(s["category"], s["current"]) for s in result["streaks"]] == [("overall", 2), ("craft", 1)]
    daily = await me.get("/progress/daily")
    by_category = {s["category"]: s["current"] for s in daily["streaks"]}
    assert by_category == {"overall": 2, "health": 1, "craft": 1, "growth": 0, "connection": 0}


async def test_streak_milestones_are_reported_once_with_a_bonus(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    for day in range(6):
        result = await complete_one(me, goal["id"], f"Day {day + 1}")
        assert result["streak_milestones"] == []
        clock.advance(days=1)
    seventh = await complete_one(me, goal["id"], "Day 7")
    assert seventh["streak_milestones"] == [
        {"category": "overall", "days": 7},
        {"category": "health", "days": 7},
    ]
    assert {"reason": "streak_milestone", "amount": 50, "detail": {"days": 7}} in seventh["essence_awards"]
    assert seventh["essence_earned"] == 22 + 50  # a 15-minute medium mission, plus the bonus
    same_day = await complete_one(me, goal["id"], "Day 7, again")
    assert same_day["streak_milestones"] == []
    assert same_day["essence_earned"] == 22
    daily = await me.get("/progress/daily")
    assert daily["essence_earned"] == 22 + 50 + 22
    assert daily["essence_balance"] == 22 * 8 + 50


async def test_finishing_a_goal_milestone_is_reported_once(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    approval = await me.plan(goal["id"])
    first_milestone = approval["milestones"][0]
    missions = [m for m in approval["missions"] if m["milestone_id"] == first_milestone["id"]]
    *rest, last = missions
    await me.post(f"/missions/{rest[0]['id']}/abandon")  # abandoned missions do not block it
    for mission in rest[1:]:
        result = await me.finish(mission["id"])
        assert result["milestone_reached"] is None
    result = await me.finish(last["id"])
    assert result["milestone_reached"] == {"id": first_milestone["id"], "title": first_milestone["title"]}
    award = next(a for a in result["essence_awards"] if a["reason"] == "goal_milestone")
    assert award["amount"] == 25 and award["detail"]["milestone_id"] == first_milestone["id"]
    detail = await me.get(f"/goals/{goal['id']}")
    assert detail["milestones"][0]["reached_at"] is not None
    assert detail["milestones"][1]["reached_at"] is None


async def test_daily_progress(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    health = await me.goal()
    craft = await me.goal(title="Draw", value_category="craft")
    await complete_one(me, health["id"], "Run", actual_minutes=25)
    await complete_one(me, craft["id"], "Sketch", actual_minutes=12)
    daily = await me.get("/progress/daily")
    assert daily["missions_completed"] == 2
    assert daily["minutes_completed"] == 37
    assert daily["categories_completed"] == {"health": 1, "craft": 1}
    assert daily["essence_earned"] == daily["essence_balance"] == 44
    assert daily["snapshot"] is None
    await me.get("/progress/daily", params={"date": "someday"}, expect=422)
