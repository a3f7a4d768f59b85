"""Archiving a goal while one of its decompositions is approved: the approval locks the goal's row
first (the documented lock order), so either it lands first and the archival then archives the new
missions, or the archival lands first and the approval is a 409 — never open missions left in an
archived goal, and never a deadlock (a 500)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.goals.support import Api, FakeClock

ROUNDS = 6


async def test_archiving_a_goal_while_approving_its_decomposition_stays_consistent(
    api: Any, client: httpx.AsyncClient, auth_headers: Any, clock: FakeClock
) -> None:
    for n in range(ROUNDS):
        # A user per round: decomposition requests are rate-limited per user.
        me: Api = api(f"user_{n}")
        headers = auth_headers(f"user_{n}")
        goal = await me.goal()
        # An open mission too, so the archival has mission rows to lock.
        await me.mission(goal["id"], title="Buy shoes")
        proposal = await me.post(f"/goals/{goal['id']}/decompose", expect=201)
        approval = f"/api/v1/goals/{goal['id']}/decompositions/{proposal['id']}/approve"
        archive, approve = await asyncio.gather(
            client.delete(f"/api/v1/goals/{goal['id']}", headers=headers),
            client.post(approval, headers=headers),
        )
        assert archive.status_code == 204, archive.text
        assert approve.status_code in {201, 409}, approve.text

        assert (await me.get(f"/goals/{goal['id']}"))["status"] == "archived"
        listed = await me.get("/missions", params={"goal_id": goal["id"], "limit": 200})
        assert {mission["status"] for mission in listed["items"]} == {"archived"}
        saved = await me.get(f"/goals/{goal['id']}/decompositions/{proposal['id']}")
        if approve.status_code == 201:
            assert saved["status"] == "approved"
            assert listed["total"] == 1 + proposal["mission_count"]
        else:
            assert approve.json()["error"]["code"] == "goal_not_open"
            assert saved["status"] != "approved"
            assert listed["total"] == 1
