"""Archiving a goal while its missions are being completed: one lock order (goal, then mission),
so PostgreSQL never has to abort one of them as a deadlock (which would be a 500)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.goals.support import Api, FakeClock

ROUNDS = 6
MISSIONS = 3


async def _status(client: httpx.AsyncClient, headers: dict[str, str], method: str, path: str) -> int:
    response = await client.request(method, "/api/v1" + path, headers=headers)
    return response.status_code


async def test_archiving_a_goal_while_completing_its_missions_never_deadlocks(
    api: Any, client: httpx.AsyncClient, auth_headers: Any, clock: FakeClock
) -> None:
    me: Api = api("user_a")
    headers = auth_headers("user_a")
    completed = 0
    for _ in range(ROUNDS):
        goal = await me.goal()
        missions = [await me.mission(goal["id"], title=f"Step {n}") for n in range(MISSIONS)]
        for mission in missions:
            await me.post(f"/missions/{mission['id']}/start")
        archive, *completions = await asyncio.gather(
            _status(client, headers, "DELETE", f"/goals/{goal['id']}"),
            *(_status(client, headers, "POST", f"/missions/{m['id']}/complete") for m in missions),
        )
        assert archive == 204
        assert set(completions) <= {200, 409}, completions

        assert (await me.get(f"/goals/{goal['id']}"))["status"] == "archived"
        for mission, code in zip(missions, completions, strict=True):
            detail = await me.get(f"/missions/{mission['id']}")
            # Completed before the archival, or archived first (then completing is illegal).
            assert detail["status"] == ("completed" if code == 200 else "archived")
            [session] = detail["sessions"]
            assert session["ended_at"] is not None
            assert session["outcome"] == ("completed" if code == 200 else "abandoned")
        completed += sum(1 for code in completions if code == 200)
        assert (await me.get("/progress/daily"))["missions_completed"] == completed


TRIADS = 3


async def test_archiving_a_goal_while_the_triad_is_computed_never_deadlocks(
    api: Any, client: httpx.AsyncClient, auth_headers: Any, clock: FakeClock
) -> None:
    """Computing the triad writes mission rows (due deferred missions come back, priority scores
    are saved): it locks their goals first, in id order, so it queues behind an archival."""
    me: Api = api("user_a")
    headers = auth_headers("user_a")
    other = await me.goal(title="Learn Spanish", value_category="growth")
    for n in range(MISSIONS):
        await me.mission(other["id"], title=f"Lesson {n}")
    for _ in range(ROUNDS):
        goal = await me.goal()
        missions = [await me.mission(goal["id"], title=f"Step {n}") for n in range(2 * MISSIONS)]
        for mission in missions[:MISSIONS]:
            await me.post(f"/missions/{mission['id']}/defer")
        await me.post(f"/missions/{missions[-1]['id']}/start")
        clock.advance(days=1)  # the deferred missions are due: the next triad reactivates them
        archive, *triads = await asyncio.gather(
            _status(client, headers, "DELETE", f"/goals/{goal['id']}"),
            *(_status(client, headers, "GET", "/missions/triad") for _ in range(TRIADS)),
        )
        assert archive == 204
        assert triads == [200] * TRIADS

        assert (await me.get(f"/goals/{goal['id']}"))["status"] == "archived"
        listed = await me.get("/missions", params={"goal_id": goal["id"], "limit": 200})
        assert {mission["status"] for mission in listed["items"]} == {"archived"}
        triad = await me.get("/missions/triad")
        picked = {entry["mission"]["id"] for entry in triad["missions"]}
        assert len(picked) == MISSIONS
        assert not picked & {mission["id"] for mission in missions}
        for entry in triad["missions"]:
            assert entry["mission"]["goal_id"] == other["id"]
            assert entry["mission"]["priority_score"] == entry["priority"]
