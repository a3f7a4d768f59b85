"""Cross-tenant isolation: user B cannot read or change anything of user A's; A's ids answer 404."""

from __future__ import annotations

from typing import Any

import pytest

from tests.goals.support import Api, FakeClock


@pytest.fixture
async def a_data(api: Any, clock: FakeClock) -> dict[str, Any]:
    alice: Api = api("user_alice")
    goal = await alice.goal(title="Alice's goal")
    proposal = await alice.post(f"/goals/{goal['id']}/decompose", expect=201)
    other = await alice.goal(title="Alice's other goal")
    open_proposal = await alice.post(f"/goals/{other['id']}/decompose", expect=201)
    approval = await alice.post(f"/goals/{goal['id']}/decompositions/{proposal['id']}/approve", expect=201)
    mission = approval["missions"][0]
    running = approval["missions"][1]
    await alice.post(f"/missions/{running['id']}/start")
    await alice.finish(approval["missions"][2]["id"], {"notes": "private notes"})
    await alice.get("/missions/triad")
    return {
        "goal": goal,
        "other": other,
        "proposal": proposal,
        "open_proposal": open_proposal,
        "mission": mission,
        "running": running,
        "milestone": approval["milestones"][0],
    }


async def test_every_endpoint_answers_404_for_another_users_ids(api: Any, a_data: dict[str, Any]) -> None:
    bob: Api = api("user_bob")
    goal, other, mission, running = a_data["goal"], a_data["other"], a_data["mission"], a_data["running"]
    goal_path = f"/goals/{goal['id']}"
    open_path = f"/goals/{other['id']}/decompositions/{a_data['open_proposal']['id']}"
    calls: list[tuple[str, str, Any]] = [
        ("GET", goal_path, None),
        ("PATCH", goal_path, {"title": "Bob was here"}),
        ("DELETE", goal_path, None),
        ("POST", f"{goal_path}/decompose", None),
        ("GET", f"{goal_path}/decompositions/{a_data['proposal']['id']}", None),
        ("GET", open_path, None),
        ("POST", f"{open_path}/approve", None),
        ("POST", f"{open_path}/reject", None),
        ("GET", f"/missions/{mission['id']}", None),
        ("PATCH", f"/missions/{mission['id']}", {"title": "Bob was here"}),
        ("POST", f"/missions/{mission['id']}/start", None),
        ("POST", f"/missions/{running['id']}/complete", None),
        ("POST", f"/missions/{mission['id']}/defer", None),
        ("POST", f"/missions/{mission['id']}/abandon", None),
        (
            "POST",
            "/missions",
            {"goal_id": goal["id"], "title": "x", "estimated_minutes": 10, "energy_level": "low"},
        ),
    ]
    for method, path, body in calls:
        kwargs = {"json": body} if body is not None else {}
        error = await bob.request(method, path, 404, **kwargs)
        assert error["error"]["code"] == "not_found", (method, path)

    # Bob's milestone references must be his own too.
    bob_goal = await bob.goal()
    error = await bob.post(
        "/missions",
        {
            "goal_id": bob_goal["id"],
            "title": "x",
            "estimated_minutes": 10,
            "energy_level": "low",
            "milestone_id": a_data["milestone"]["id"],
        },
        expect=422,
    )
    assert error["error"]["details"][0]["field"] == "milestone_id"


async def test_lists_triad_and_progress_show_only_your_own(api: Any, a_data: dict[str, Any]) -> None:
    bob: Api = api("user_bob")
    assert (await bob.get("/goals", params={"include_archived": "true"}))["total"] == 0
    assert (await bob.get("/missions"))["total"] == 0
    assert (await bob.get("/missions", params={"goal_id": a_data["goal"]["id"]}))["total"] == 0
    assert (await bob.get("/missions/triad"))["missions"] == []
    daily = await bob.get("/progress/daily")
    assert daily["missions_completed"] == 0 and daily["essence_balance"] == 0
    assert all(streak["current"] == 0 for streak in daily["streaks"])
    assert (await bob.get("/progress/dci"))["active_days"] == 0
    export = await bob.get("/users/me/export")
    assert export["goals"]["goals"] == [] and export["missions"]["missions"] == []


async def test_alices_data_is_untouched_by_bobs_attempts(api: Any, a_data: dict[str, Any]) -> None:
    bob: Api = api("user_bob")
    await bob.request("PATCH", f"/goals/{a_data['goal']['id']}", 404, json={"title": "Bob was here"})
    await bob.request("POST", f"/missions/{a_data['mission']['id']}/abandon", 404)
    alice: Api = api("user_alice")
    assert (await alice.get(f"/goals/{a_data['goal']['id']}"))["title"] == "Alice's goal"
    assert (await alice.get(f"/missions/{a_data['mission']['id']}"))["status"] == "pending"
    assert (await alice.get(f"/missions/{a_data['running']['id']}"))["status"] == "in_progress"
