"""The daily triad: the priority formula, labels, stability within a local day, and refreshes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import EmotionalState, User
from app.planning import triad
from tests.goals.support import LOS_ANGELES, TONGATAPU, Api, FakeClock

NOW = datetime(2025, 1, 15, 17, 0, tzinfo=UTC)
TODAY = date(2025, 1, 15)


def fake_goal(importance: int = 3, target: date | None = None, last_worked_days: float | None = None) -> Any:
    created = NOW - timedelta(days=30)
    worked = NOW - timedelta(days=last_worked_days) if last_worked_days is not None else None
    return SimpleNamespace(
        importance=importance, target_date=target, last_worked_at=worked, created_at=created
    )


def test_each_factor_and_the_weighted_sum() -> None:
    assert triad.importance(fake_goal(importance=1)) == 0.0
    assert triad.importance(fake_goal(importance=5)) == 1.0
    # No target date: deadline 0.25; never worked on for 30 days: neglect 1.
    assert triad.urgency(fake_goal(), TODAY, NOW) == pytest.approx(0.6 * 0.25 + 0.4 * 1.0)
    # Target 15 days away: deadline 1 − 15/60; worked on 3.5 days ago: neglect 0.5.
    goal = fake_goal(target=TODAY + timedelta(days=15), last_worked_days=3.5)
    assert triad.urgency(goal, TODAY, NOW) == pytest.approx(0.6 * 0.75 + 0.4 * 0.5)
    # Overdue target, worked on just now.
    assert triad.urgency(fake_goal(target=TODAY - timedelta(days=1), last_worked_days=0), TODAY, NOW) == 0.6
    assert triad.energy_match("low", "low") == 1.0
    assert triad.energy_match("medium", "high") == 0.5
    assert triad.energy_match("low", "high") == 0.0
    assert triad.value_diversity("health", Counter()) == 1.0
    assert triad.value_diversity("health", Counter({"health": 1})) == 0.5
    assert triad.value_diversity("health", Counter({"health": 3, "craft": 1})) == 0.25

    mission = SimpleNamespace(energy_level="high", value_category="craft")
    scored = triad.score(
        mission,
        fake_goal(importance=5, last_worked_days=7),
        today=TODAY,
        now=NOW,
        energy="high",
        seen=Counter(),
    )  # type: ignore[arg-type]
    expected = 0.4 * 1.0 + 0.3 * (0.6 * 0.25 + 0.4 * 1.0) + 0.2 * 1.0 + 0.1 * 1.0
    assert scored.priority == pytest.approx(expected, abs=1e-4)
    assert set(scored.factors) == {"importance", "urgency", "energy_match", "value_diversity"}


async def test_three_missions_labelled_by_priority(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    important = await me.goal(title="Important", importance=5)
    minor = await me.goal(title="Minor", importance=1, value_category="craft")
    medium = await me.goal(title="Medium", importance=3, value_category="growth")
    low_one = await me.mission(minor["id"], title="Minor mission")
    top = await me.mission(important["id"], title="Top mission")
    middle = await me.mission(medium["id"], title="Middle mission")

    result = await me.get("/missions/triad")
    assert result["date"] == "2025-01-15"
    assert [e["slot"] for e in result["missions"]] == ["high", "medium", "low"]
    assert [e["mission"]["id"] for e in result["missions"]] == [top["id"], middle["id"], low_one["id"]]
    priorities = [e["priority"] for e in result["missions"]]
    assert priorities == sorted(priorities, reverse=True)
    assert result["note"] is None
    assert result["energy"] == "medium" and result["energy_source"] == "default"
    for entry in result["missions"]:
        factors = entry["factors"]
        assert entry["priority"] == pytest.approx(
            0.4 * factors["importance"]
            + 0.3 * factors["urgency"]
            + 0.2 * factors["energy_match"]
            + 0.1 * factors["value_diversity"],
            abs=1e-3,
        )
        assert (await me.get(f"/missions/{entry['mission']['id']}"))["priority_score"] == entry["priority"]


async def test_stated_energy_and_value_diversity_steer_the_pick(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    goal = await me.goal(importance=3)
    tired = await me.mission(goal["id"], title="Gentle stretch", energy_level="low")
    await me.mission(goal["id"], title="Hill sprints", energy_level="high")
    result = await me.get("/missions/triad", params={"energy": "low"})
    assert result["energy_source"] == "stated"
    assert result["missions"][0]["mission"]["id"] == tired["id"]

    other = await me.get("/missions/triad", params={"energy": "high"})  # stable within the day
    assert other["missions"] == result["missions"]
    # Having completed a health mission today, a craft mission of equal weight scores higher.
    craft_goal = await me.goal(title="Sketch", value_category="craft", importance=3)
    health = await me.mission(goal["id"], title="Walk", energy_level="medium")
    craft = await me.mission(craft_goal["id"], title="Draw a cup", energy_level="medium")
    await me.finish(health["id"])
    clock.advance(hours=1)
    # The triad had two missions; now that more are eligible it is recomputed.
    refreshed = await me.get("/missions/triad")
    picked = [e["mission"]["id"] for e in refreshed["missions"]]
    assert craft["id"] in picked
    craft_entry = next(e for e in refreshed["missions"] if e["mission"]["id"] == craft["id"])
    assert craft_entry["factors"]["value_diversity"] == 1.0


async def test_the_triad_is_stable_and_refreshed_on_complete_and_defer(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    missions = [await me.mission(goal["id"], title=f"Mission {n}") for n in range(5)]
    first = await me.get("/missions/triad")
    assert first["refresh_count"] == 0
    picked = [e["mission"]["id"] for e in first["missions"]]
    assert len(picked) == 3

    clock.advance(hours=3)
    await me.mission(goal["id"], title="Added later", energy_level="high")
    again = await me.get("/missions/triad", params={"energy": "high"})
    assert [e["mission"]["id"] for e in again["missions"]] == picked
    assert again["computed_at"] == first["computed_at"]

    # Starting a triad mission keeps it (in progress is still eligible).
    await me.post(f"/missions/{picked[0]}/start")
    assert [e["mission"]["id"] for e in (await me.get("/missions/triad"))["missions"]] == picked

    await me.post(f"/missions/{picked[0]}/complete")
    after_complete = await me.get("/missions/triad")
    ids = [e["mission"]["id"] for e in after_complete["missions"]]
    assert picked[0] not in ids and len(ids) == 3
    assert after_complete["refresh_count"] == 1

    await me.post(f"/missions/{ids[0]}/defer")
    after_defer = await me.get("/missions/triad")
    assert ids[0] not in [e["mission"]["id"] for e in after_defer["missions"]]
    assert after_defer["refresh_count"] == 2
    assert len(missions) == 5


async def test_fewer_than_three_missions(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    empty = await me.get("/missions/triad")
    assert empty["missions"] == []
    assert "No missions" in empty["note"]

    goal = await me.goal()
    only = await me.mission(goal["id"])
    one = await me.get("/missions/triad")
    assert [e["slot"] for e in one["missions"]] == ["high"]
    assert one["note"] == "Only 1 mission is available today."
    second = await me.mission(goal["id"], title="Second")
    two = await me.get("/missions/triad")
    assert [e["mission"]["id"] for e in two["missions"]] == [only["id"], second["id"]]
    assert two["note"] == "Only 2 missions are available today."


async def test_paused_goals_and_other_users_are_left_out(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    paused = await me.goal(title="Paused")
    await me.mission(paused["id"])
    await me.patch(f"/goals/{paused['id']}", {"status": "paused"})
    other: Api = api("user_b")
    their_goal = await other.goal()
    await other.mission(their_goal["id"])
    assert (await me.get("/missions/triad"))["missions"] == []


@pytest.mark.parametrize(
    ("tz", "before", "after"),
    [
        # Los Angeles (UTC−8): 23:50 and 00:10 local are both 16 January in UTC.
        (LOS_ANGELES, (2025, 1, 15, 23, 50), (2025, 1, 16, 0, 10)),
        # Tongatapu (UTC+13): 23:50 and 00:10 local are both 15 January in UTC.
        (TONGATAPU, (2025, 1, 15, 23, 50), (2025, 1, 16, 0, 10)),
    ],
)
async def test_a_new_local_day_brings_a_new_triad(
    api: Any, clock: FakeClock, tz: str, before: tuple[int, ...], after: tuple[int, ...]
) -> None:
    me: Api = api("user_a")
    await me.set_timezone(tz)
    clock.set_local(tz, *before)
    goal = await me.goal()
    for n in range(4):
        await me.mission(goal["id"], title=f"Mission {n}")
    late = await me.get("/missions/triad")
    assert late["date"] == "2025-01-15"
    utc_day = clock.now.date()
    clock.set_local(tz, *after)
    assert clock.now.date() == utc_day  # the same UTC day on both sides of local midnight
    early = await me.get("/missions/triad")
    assert early["date"] == "2025-01-16"
    assert early["computed_at"] != late["computed_at"]
    assert early["refresh_count"] == 0


async def test_a_new_utc_day_is_not_a_new_local_day(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    await me.set_timezone(LOS_ANGELES)
    clock.set_local(LOS_ANGELES, 2025, 1, 15, 15, 0)  # 23:00 UTC
    goal = await me.goal()
    for n in range(4):
        await me.mission(goal["id"], title=f"Mission {n}")
    first = await me.get("/missions/triad")
    clock.set_local(LOS_ANGELES, 2025, 1, 15, 17, 0)  # 01:00 UTC, 16 January
    second = await me.get("/missions/triad")
    assert first["date"] == second["date"] == "2025-01-15"
    assert second["missions"] == first["missions"]
    assert second["computed_at"] == first["computed_at"]


async def test_current_energy_comes_from_the_emotional_state_then_the_latest_mood(
    api: Any, clock: FakeClock, db: AsyncSession
) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    low = await me.mission(goal["id"], title="Gentle stretch", energy_level="low")
    high = await me.mission(goal["id"], title="Hill sprints", energy_level="high")
    warmup = await me.mission(goal["id"], title="Warm-up", energy_level="medium")
    await me.finish(warmup["id"], {"mood": "energized"})
    mood_based = await me.get("/missions/triad")
    assert (mood_based["energy"], mood_based["energy_source"]) == ("high", "mood")
    assert mood_based["missions"][0]["mission"]["id"] == high["id"]

    user_id = (await db.execute(select(User.id).where(User.clerk_user_id == "user_a"))).scalar_one()
    db.add(EmotionalState(user_id=user_id, emotion="sadness", intensity=0.6, energy="low", source="offline"))
    await db.commit()
    clock.advance(days=1)
    state_based = await me.get("/missions/triad")
    assert (state_based["energy"], state_based["energy_source"]) == ("low", "emotional_state")
    assert state_based["missions"][0]["mission"]["id"] == low["id"]
