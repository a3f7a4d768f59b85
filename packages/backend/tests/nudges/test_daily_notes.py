"""The streak-at-risk and triad-ready notes: when they go, the caps over all channels, quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.goals.support import Api, FakeClock
from tests.nudges.conftest import Store


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 1, day, hour, minute, tzinfo=UTC)


async def on_a_streak(api: Any, clock: FakeClock, sub: str, **communication: Any) -> Api:
    """A user (UTC) who completed a mission on 13, 14 and 15 January: a 3-day streak."""
    me: Api = api(sub)
    if communication:
        await me.patch("/users/me/preferences", {"communication_preferences": communication})
    clock.set(at(13, 8))
    goal = await me.goal(title="Sleep better")
    missions = [
        await me.mission(goal["id"], title=f"Wind down {n}", estimated_minutes=10 + n, energy_level="low")
        for n in range(5)
    ]
    for offset, mission in enumerate(missions[:3]):
        clock.set(at(13 + offset, 9))
        await me.finish(mission["id"])
    return me


async def test_a_streak_of_three_gets_one_note_late_in_a_day_without_a_completion(
    api: Any, clock: FakeClock, sweep: Any, store: Store
) -> None:
    me = await on_a_streak(api, clock, "user_streak")
    assert (await sweep(at(15, 19))).notes == {}  # completed today: not at risk
    assert (await sweep(at(16, 18, 45))).notes == {}  # at risk, but the note goes at 19:00
    report = await sweep(at(16, 19))
    assert report.delivered == {"sent:in_app": 1}
    [note] = (await me.get("/notifications"))["items"]
    assert note["kind"] == "streak_risk" and note["title"] == "3 days in a row"
    assert "Wind down 3" in note["body"]  # the shortest open mission
    assert (await sweep(at(16, 19, 15))).rows_written == 0  # once per day


async def test_the_streak_note_falls_in_quiet_hours_and_is_suppressed(
    api: Any, clock: FakeClock, sweep: Any, store: Store
) -> None:
    me = await on_a_streak(api, clock, "user_early_night")
    await me.patch(
        "/users/me/preferences", {"custom_hours": {"quiet_hours": {"start": "18:00", "end": "06:00"}}}
    )
    assert (await sweep(at(16, 17))).notes == {}
    report = await sweep(at(16, 19))
    assert report.notes == {"suppressed:quiet_hours": 1} and report.delivered == {}
    assert await store.summary("user_early_night") == [
        ("streak_risk", 0, "in_app", "suppressed", "quiet_hours")
    ]


async def test_gentle_caps_allow_one_note_a_day(api: Any, clock: FakeClock, sweep: Any, store: Store) -> None:
    """Default frequency (gentle): the triad note at 10:00 uses the day's one note; the streak note
    at 19:00 is suppressed by the cap."""
    await on_a_streak(api, clock, "user_gentle", triad_ready=True)
    morning = await sweep(at(16, 10))
    assert morning.delivered == {"sent:in_app": 1}
    evening = await sweep(at(16, 19))
    assert evening.notes == {"suppressed:cap": 1}
    assert await store.summary("user_gentle") == [
        ("triad_ready", 0, "in_app", "sent", None),
        ("streak_risk", 0, "in_app", "suppressed", "cap"),
    ]


async def test_regular_frequency_gets_the_full_daily_cap(
    api: Any, clock: FakeClock, sweep: Any, store: Store
) -> None:
    me = await on_a_streak(api, clock, "user_regular", triad_ready=True, nudge_frequency="regular", push=True)
    await sweep(at(16, 10))
    await sweep(at(16, 19))
    assert await store.summary("user_regular") == [
        ("triad_ready", 0, "push", "sent", None),
        ("streak_risk", 0, "push", "sent", None),
    ]
    titles = [item["title"] for item in (await me.get("/notifications"))["items"]]
    assert titles == ["3 days in a row", "Today's three are ready"]  # push notes show in the centre too


@pytest.mark.parametrize("nudge_overrides", [{"nudge_weekly_cap": 2}])
async def test_the_weekly_cap_counts_every_channel(
    api: Any, clock: FakeClock, sweep: Any, store: Store
) -> None:
    me = await on_a_streak(api, clock, "user_weekly", triad_ready=True, nudge_frequency="regular")
    for day in (16, 17, 18):
        clock.set(at(day, 9))
        await me.post(
            "/goals", {"title": f"Day {day}", "goal_type": "abstract", "value_category": "growth"}, expect=201
        )
        await sweep(at(day, 10))
    assert [(n.local_date.day, n.state.value, n.reason) for n in await store.notes("user_weekly")] == [
        (16, "sent", None),
        (17, "sent", None),
        (18, "suppressed", "cap"),
    ]


async def test_nudge_frequency_off_sends_nothing(
    api: Any, clock: FakeClock, sweep: Any, store: Store
) -> None:
    await on_a_streak(api, clock, "user_off", triad_ready=True, nudge_frequency="off")
    for moment in (at(16, 10), at(16, 19), at(18, 10), at(20, 10), at(23, 10)):
        report = await sweep(moment)
        assert report.notes == {} and report.delivered == {}
    assert await store.summary("user_off") == []


async def test_a_dropped_off_user_gets_no_daily_notes(
    api: Any, clock: FakeClock, sweep: Any, store: Store
) -> None:
    await on_a_streak(api, clock, "user_gone", triad_ready=True)
    await sweep(at(18, 10))  # last activity 15 Jan 09:00: 73 h ago
    assert [n.kind.value for n in await store.notes("user_gone")] == ["dropoff"]
