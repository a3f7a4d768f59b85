"""The mission status machine: every action from every status, legal or 409, and the sessions."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.goals.support import Api, FakeClock

STATUSES = ["pending", "in_progress", "completed", "deferred", "archived"]
ACTIONS = ["start", "complete", "defer", "abandon", "reactivate"]
LEGAL = {
    ("pending", "start"): "in_progress",
    ("deferred", "start"): "in_progress",
    ("in_progress", "complete"): "completed",
    ("pending", "defer"): "deferred",
    ("in_progress", "defer"): "deferred",
    ("pending", "abandon"): "archived",
    ("in_progress", "abandon"): "archived",
    ("deferred", "abandon"): "archived",
    ("deferred", "reactivate"): "pending",
}


async def mission_in(me: Api, status: str) -> dict[str, Any]:
    goal = await me.goal()
    mission = await me.mission(goal["id"])
    path = f"/missions/{mission['id']}"
    if status == "in_progress":
        await me.post(f"{path}/start")
    elif status == "completed":
        await me.post(f"{path}/start")
        await me.post(f"{path}/complete")
    elif status == "deferred":
        await me.post(f"{path}/defer")
    elif status == "archived":
        await me.post(f"{path}/abandon")
    current = await me.get(path)
    assert current["status"] == status
    return current  # type: ignore[no-any-return]


async def act(me: Api, mission_id: str, action: str, expect: int) -> Any:
    if action == "reactivate":
        return await me.patch(f"/missions/{mission_id}", {"status": "pending"}, expect=expect)
    return await me.post(f"/missions/{mission_id}/{action}", expect=expect)


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", ACTIONS)
async def test_every_transition(api: Any, clock: FakeClock, status: str, action: str) -> None:
    me: Api = api("user_a")
    mission = await mission_in(me, status)
    target = LEGAL.get((status, action))
    if target is not None:
        await act(me, mission["id"], action, 200)
        assert (await me.get(f"/missions/{mission['id']}"))["status"] == target
    elif status == "pending" and action == "reactivate":
        await act(me, mission["id"], action, 200)  # already pending: nothing to do
        assert (await me.get(f"/missions/{mission['id']}"))["status"] == "pending"
    else:
        error = await act(me, mission["id"], action, 409)
        code = (
            "mission_closed"
            if action == "reactivate" and status in ("completed", "archived")
            else "illegal_transition"
        )
        assert error["error"]["code"] == code
        if code == "illegal_transition":
            assert error["error"]["details"]["status"] == status
            assert error["error"]["details"]["action"] == action
        assert (await me.get(f"/missions/{mission['id']}"))["status"] == status


async def test_a_session_per_start(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    mission = await me.mission(goal["id"], estimated_minutes=20)
    path = f"/missions/{mission['id']}"

    started = await me.post(f"{path}/start")
    assert started["mission"]["status"] == "in_progress"
    assert started["session"]["started_at"] == "2025-01-15T17:00:00Z"
    assert started["session"]["ended_at"] is None

    clock.advance(minutes=12, seconds=10)
    deferred = await me.post(f"{path}/defer", {"notes": "Too tired, tomorrow"})
    assert deferred["mission"]["status"] == "deferred"
    assert deferred["mission"]["deferred_until"] == "2025-01-16"
    assert deferred["session"]["outcome"] == "deferred"
    assert deferred["session"]["actual_minutes"] == 13  # started minutes, rounded up

    clock.advance(hours=20)
    await me.post(f"{path}/start")
    clock.advance(minutes=25)
    done = await me.post(
        f"{path}/complete", {"actual_minutes": 22, "mood": "calm", "reflection": "Felt easier"}
    )
    assert done["session"]["actual_minutes"] == 22
    assert done["session"]["mood"] == "calm"
    assert done["mission"]["completed_on"] == "2025-01-16"

    detail = await me.get(path)
    assert [s["outcome"] for s in detail["sessions"]] == ["deferred", "completed"]
    assert detail["sessions"][0]["notes"] == "Too tired, tomorrow"


async def test_elapsed_minutes_are_the_default_and_capped(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    mission = await me.mission(goal["id"])
    await me.post(f"/missions/{mission['id']}/start")
    clock.advance(hours=9)  # forgot to press "done"
    done = await me.post(f"/missions/{mission['id']}/complete")
    assert done["session"]["actual_minutes"] == 240


async def test_missions_of_paused_goals_cannot_start(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    mission = await me.mission(goal["id"])
    await me.patch(f"/goals/{goal['id']}", {"status": "paused"})
    error = await me.post(f"/missions/{mission['id']}/start", expect=409)
    assert error["error"]["code"] == "goal_not_active"
    await me.patch(f"/goals/{goal['id']}", {"status": "active"})
    await me.post(f"/missions/{mission['id']}/start")


async def test_deferred_missions_come_back_on_their_day(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    mission = await me.mission(goal["id"])
    await me.post(f"/missions/{mission['id']}/defer", {"until": "2025-01-17"})
    clock.advance(days=1)
    await me.get("/missions/triad")
    assert (await me.get(f"/missions/{mission['id']}"))["status"] == "deferred"
    clock.advance(days=1)
    triad = await me.get("/missions/triad")
    assert [entry["mission"]["id"] for entry in triad["missions"]] == [mission["id"]]
    assert (await me.get(f"/missions/{mission['id']}"))["status"] == "pending"


async def test_creating_and_editing_missions(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    goal = await me.goal(value_category="craft")
    mission = await me.mission(
        goal["id"], description="Around the park", energy_level="high", estimated_minutes=30
    )
    assert mission["value_category"] == "craft"  # the goal's, unless given
    assert mission["essence_reward"] == 60
    assert mission["source"] == "manual"
    other = await me.mission(goal["id"], value_category="connection")
    assert other["value_category"] == "connection"

    changed = await me.patch(f"/missions/{mission['id']}", {"estimated_minutes": 10, "energy_level": "low"})
    assert changed["essence_reward"] == 10
    assert changed["description"] == "Around the park"

    await me.post(f"/missions/{mission['id']}/abandon")
    error = await me.patch(f"/missions/{mission['id']}", {"title": "Again"}, expect=409)
    assert error["error"]["code"] == "mission_closed"

    await me.delete(f"/goals/{goal['id']}")
    error = await me.post(
        "/missions",
        {"goal_id": goal["id"], "title": "x", "estimated_minutes": 10, "energy_level": "low"},
        expect=409,
    )
    assert error["error"]["code"] == "goal_not_open"


async def test_milestones_must_belong_to_the_missions_goal(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    other = await me.goal(title="Other")
    approval = await me.plan(other["id"])
    milestone_id = approval["milestones"][0]["id"]
    error = await me.post(
        "/missions",
        {
            "goal_id": goal["id"],
            "title": "x",
            "estimated_minutes": 10,
            "energy_level": "low",
            "milestone_id": milestone_id,
        },
        expect=422,
    )
    assert error["error"]["details"][0]["field"] == "milestone_id"
    moved = await me.patch(f"/missions/{approval['missions'][0]['id']}", {"milestone_id": None})
    assert moved["milestone_id"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"estimated_minutes": 4}, "estimated_minutes"),
        ({"estimated_minutes": 121}, "estimated_minutes"),
        ({"estimated_minutes": "15"}, "estimated_minutes"),
        ({"energy_level": "extreme"}, "energy_level"),
        ({"title": ""}, "title"),
        ({"value_category": "money"}, "value_category"),
        ({"goal_id": "nope"}, "goal_id"),
        ({"status": "completed"}, "status"),
    ],
)
async def test_bad_mission_input_is_422(api: Any, clock: FakeClock, body: dict[str, Any], field: str) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    payload = {"goal_id": goal["id"], "title": "Jog", "estimated_minutes": 15, "energy_level": "low", **body}
    error = await me.post("/missions", payload, expect=422)
    assert field in {detail["field"] for detail in error["error"]["details"]}


async def test_bad_action_input_is_422(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    mission = await me.mission(goal["id"])
    path = f"/missions/{mission['id']}"
    await me.patch(path, {"status": "completed"}, expect=422)
    await me.patch(path, {"title": None}, expect=422)
    for until in ("2025-01-15", "2025-01-14", "2025-02-15"):  # today, the past, > 30 days
        error = await me.post(f"{path}/defer", {"until": until}, expect=422)
        assert error["error"]["details"][0]["field"] == "until"
    await me.post(f"{path}/start")
    await me.post(f"{path}/complete", {"mood": "sad"}, expect=422)
    await me.post(f"{path}/complete", {"actual_minutes": 0}, expect=422)
    await me.post(f"{path}/complete", {"notes": "x" * 10_001}, expect=422)
    await me.post(f"{path}/complete", {"extra": 1}, expect=422)
    assert (await me.get(path))["status"] == "in_progress"
    await me.get("/missions", params={"status": "done"}, expect=422)
    await me.get("/missions", params={"date": "yesterday"}, expect=422)


async def test_listing_filters(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    running = await me.goal()
    writing = await me.goal(title="Write", value_category="craft")
    a = await me.mission(running["id"], title="A")
    b = await me.mission(running["id"], title="B")
    c = await me.mission(writing["id"], title="C")
    await me.finish(a["id"])
    await me.post(f"/missions/{b['id']}/defer")

    def ids(page: dict[str, Any]) -> list[str]:
        return [item["id"] for item in page["items"]]

    assert ids(await me.get("/missions")) == [a["id"], b["id"], c["id"]]
    assert ids(await me.get("/missions", params={"goal_id": writing["id"]})) == [c["id"]]
    assert ids(await me.get("/missions", params={"status": "completed"})) == [a["id"]]
    assert ids(await me.get("/missions", params={"date": "2025-01-15"})) == [a["id"]]
    assert ids(await me.get("/missions", params={"date": "2025-01-16"})) == [b["id"]]
    page = await me.get("/missions", params={"limit": 1, "offset": 1})
    assert ids(page) == [b["id"]] and page["total"] == 3


async def test_concurrent_completions_reward_once(
    app: Any, api: Any, clock: FakeClock, auth_headers: Any
) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    mission = await me.mission(goal["id"])
    await me.post(f"/missions/{mission['id']}/start")

    async def complete() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            path = f"/api/v1/missions/{mission['id']}/complete"
            return (await http.post(path, headers=auth_headers("user_a"))).status_code

    assert sorted(await asyncio.gather(complete(), complete(), complete())) == [200, 409, 409]
    daily = await me.get("/progress/daily")
    assert daily["missions_completed"] == 1
    assert daily["essence_balance"] == mission["essence_reward"]
