"""Decomposition: proposals (offline planner or a model), approval once, edits, and nothing
half-saved."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import get_now
from app.models import DecompositionProposal, GoalMilestone, Mission
from tests.goals.chat_server import ChatServer, plan_json
from tests.goals.support import Api, FakeClock


async def count(db: AsyncSession, model: Any) -> int:
    return int((await db.execute(select(func.count()).select_from(model))).scalar_one())


async def test_offline_proposal_is_saved_only_when_approved(
    api: Any, clock: FakeClock, db: AsyncSession
) -> None:
    me: Api = api("user_a")
    goal = await me.goal(title="Run a 10k by June", target_date="2025-06-01")
    proposal = await me.post(f"/goals/{goal['id']}/decompose", expect=201)
    assert proposal["status"] == "proposed"
    assert proposal["source"] == "planner"
    assert proposal["model"] is None
    plan = proposal["plan"]
    missions = [m for milestone in plan["milestones"] for m in milestone["missions"]]
    assert 3 <= proposal["milestone_count"] == len(plan["milestones"]) <= 7
    assert 10 <= proposal["mission_count"] == len(missions) <= 20
    assert all(10 <= m["estimated_minutes"] <= 30 for m in missions)
    assert {m["energy_level"] for m in missions} == {"low", "medium", "high"}
    assert proposal["total_minutes"] == sum(m["estimated_minutes"] for m in missions)
    assert await count(db, Mission) == 0 and await count(db, GoalMilestone) == 0

    fetched = await me.get(f"/goals/{goal['id']}/decompositions/{proposal['id']}")
    assert fetched == proposal

    approval = await me.post(f"/goals/{goal['id']}/decompositions/{proposal['id']}/approve", expect=201)
    assert approval["proposal"]["status"] == "approved"
    assert len(approval["milestones"]) == len(plan["milestones"])
    assert [m["title"] for m in approval["missions"]] == [m["title"] for m in missions]
    assert {m["status"] for m in approval["missions"]} == {"pending"}
    assert {m["source"] for m in approval["missions"]} == {"decomposition"}
    assert all(m["value_category"] == "health" for m in approval["missions"])
    # Essence: minutes × 1 / 1.5 / 2 for low / medium / high energy.
    factor = {"low": 1.0, "medium": 1.5, "high": 2.0}
    assert all(
        m["essence_reward"] == round(m["estimated_minutes"] * factor[m["energy_level"]])
        for m in approval["missions"]
    )
    detail = await me.get(f"/goals/{goal['id']}")
    assert [ms["title"] for ms in detail["milestones"]] == [ms["title"] for ms in plan["milestones"]]
    assert detail["mission_counts"]["pending"] == len(missions)


async def test_a_proposal_is_approved_once(api: Any, clock: FakeClock, db: AsyncSession) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    proposal = await me.post(f"/goals/{goal['id']}/decompose", expect=201)
    path = f"/goals/{goal['id']}/decompositions/{proposal['id']}/approve"
    await me.post(path, expect=201)
    error = await me.post(path, expect=409)
    assert error["error"]["code"] == "proposal_not_open"
    assert error["error"]["details"] == {"status": "approved"}
    assert await count(db, Mission) == proposal["mission_count"]


async def test_concurrent_approvals_save_the_missions_once(
    app: Any, clock: FakeClock, auth_headers: Any, db: AsyncSession, api: Any
) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    proposal = await me.post(f"/goals/{goal['id']}/decompose", expect=201)
    path = f"/api/v1/goals/{goal['id']}/decompositions/{proposal['id']}/approve"

    async def approve() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return (await http.post(path, headers=auth_headers("user_a"))).status_code

    statuses = await asyncio.gather(*(approve() for _ in range(4)))
    assert sorted(statuses) == [201, 409, 409, 409]
    assert await count(db, Mission) == proposal["mission_count"]
    assert await count(db, GoalMilestone) == proposal["milestone_count"]


async def test_approval_with_edits_and_removals(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    proposal = await me.post(f"/goals/{goal['id']}/decompose", expect=201)
    milestones = proposal["plan"]["milestones"]
    first, second = milestones[0]["missions"][:2]
    edits = {
        "remove_missions": [second["key"]],
        "mission_edits": [
            {
                "key": first["key"],
                "title": "My own first step",
                "estimated_minutes": 45,
                "energy_level": "low",
            }
        ],
        "milestone_edits": [{"key": milestones[0]["key"], "title": "Getting started"}],
    }
    approval = await me.post(
        f"/goals/{goal['id']}/decompositions/{proposal['id']}/approve", edits, expect=201
    )
    titles = [m["title"] for m in approval["missions"]]
    assert second["title"] not in titles
    assert len(titles) == proposal["mission_count"] - 1
    edited = approval["missions"][0]
    assert (edited["title"], edited["estimated_minutes"], edited["energy_level"]) == (
        "My own first step",
        45,
        "low",
    )
    assert edited["essence_reward"] == 45
    assert approval["milestones"][0]["title"] == "Getting started"
    # The proposal now shows what was saved.
    saved = await me.get(f"/goals/{goal['id']}/decompositions/{proposal['id']}")
    assert saved["mission_count"] == proposal["mission_count"] - 1


async def test_invalid_edits_are_422_and_leave_the_proposal_open(
    api: Any, clock: FakeClock, db: AsyncSession
) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    proposal = await me.post(f"/goals/{goal['id']}/decompose", expect=201)
    path = f"/goals/{goal['id']}/decompositions/{proposal['id']}/approve"
    every_key = [m["key"] for ms in proposal["plan"]["milestones"] for m in ms["missions"]]
    await me.post(path, {"remove_missions": ["m999"]}, expect=422)
    await me.post(path, {"remove_missions": every_key}, expect=422)
    await me.post(path, {"mission_edits": [{"key": "m1", "estimated_minutes": 500}]}, expect=422)
    await me.post(path, {"mission_edits": [{"key": "m1", "title": None}]}, expect=422)
    await me.post(path, {"surprise": True}, expect=422)
    assert await count(db, Mission) == 0
    assert (await me.get(f"/goals/{goal['id']}/decompositions/{proposal['id']}"))["status"] == "proposed"
    await me.post(path, expect=201)


async def test_a_new_proposal_expires_the_open_one(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    old = await me.post(f"/goals/{goal['id']}/decompose", expect=201)
    new = await me.post(f"/goals/{goal['id']}/decompose", expect=201)
    error = await me.post(f"/goals/{goal['id']}/decompositions/{old['id']}/approve", expect=409)
    assert error["error"]["details"] == {"status": "expired"}
    await me.post(f"/goals/{goal['id']}/decompositions/{new['id']}/approve", expect=201)


async def test_proposals_expire_after_their_ttl(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    proposal = await me.post(f"/goals/{goal['id']}/decompose", expect=201)
    clock.advance(hours=72, seconds=1)
    assert (await me.get(f"/goals/{goal['id']}/decompositions/{proposal['id']}"))["status"] == "expired"
    error = await me.post(f"/goals/{goal['id']}/decompositions/{proposal['id']}/approve", expect=409)
    assert error["error"]["details"] == {"status": "expired"}


async def test_rejected_proposals_cannot_be_approved(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    proposal = await me.post(f"/goals/{goal['id']}/decompose", expect=201)
    rejected = await me.post(f"/goals/{goal['id']}/decompositions/{proposal['id']}/reject")
    assert rejected["status"] == "rejected"
    await me.post(f"/goals/{goal['id']}/decompositions/{proposal['id']}/approve", expect=409)


async def test_closed_goals_cannot_be_decomposed(api: Any, clock: FakeClock) -> None:
    me: Api = api("user_a")
    goal = await me.goal()
    proposal = await me.post(f"/goals/{goal['id']}/decompose", expect=201)
    await me.delete(f"/goals/{goal['id']}")
    error = await me.post(f"/goals/{goal['id']}/decompose", expect=409)
    assert error["error"]["code"] == "goal_not_open"
    await me.post(f"/goals/{goal['id']}/decompositions/{proposal['id']}/approve", expect=409)
    await me.post(f"/goals/{uuid.uuid4()}/decompose", expect=404)
    await me.get(f"/goals/{goal['id']}/decompositions/{uuid.uuid4()}", expect=404)


# --- with a language model ------------------------------------------------------------------


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    with ChatServer() as server:
        yield server


@pytest.fixture
async def model_api(
    app_factory: Any, settings_factory: Any, chat_server: ChatServer, auth_headers: Any
) -> AsyncIterator[Api]:
    settings = settings_factory(
        openai_base_url=chat_server.url,
        openai_api_key=chat_server.api_key,
        companion_max_retries=0,
        companion_timeout_seconds=5,
    )
    app = await app_factory(settings)
    app.dependency_overrides[get_now] = FakeClock(datetime(2025, 1, 15, 17, 0, tzinfo=UTC))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield Api(http, auth_headers, "user_model")


async def test_a_model_plan_is_proposed(model_api: Api, chat_server: ChatServer) -> None:
    chat_server.replies = [plan_json(milestones=4, missions_each=3, energy="mixed")]
    goal = await model_api.goal(title="Learn to draw portraits", value_category="craft")
    proposal = await model_api.post(f"/goals/{goal['id']}/decompose", expect=201)
    assert proposal["source"] == "model"
    assert proposal["model"] == "gpt-4o-mini"
    assert proposal["milestone_count"] == 4 and proposal["mission_count"] == 12
    assert proposal["plan"]["repairs"] == []
    [request] = chat_server.requests
    body = request["body"]
    assert body["tools"][0]["function"]["name"] == "ModelPlan"
    assert "Learn to draw portraits" in body["messages"][-1]["content"]
    assert not body.get("stream")
    approval = await model_api.post(
        f"/goals/{goal['id']}/decompositions/{proposal['id']}/approve", expect=201
    )
    assert len(approval["missions"]) == 12


async def test_unambiguous_problems_are_repaired_without_asking_again(
    model_api: Api, chat_server: ChatServer
) -> None:
    answer = plan_json(milestones=9, missions_each=3, minutes=45, energy="Intense")
    answer["milestones"][0]["missions"].append(
        {"title": "Step 2.1", "estimated_minutes": 5, "energy_level": "low"}
    )
    chat_server.replies = [answer]
    goal = await model_api.goal()
    proposal = await model_api.post(f"/goals/{goal['id']}/decompose", expect=201)
    missions = [m for ms in proposal["plan"]["milestones"] for m in ms["missions"]]
    assert proposal["milestone_count"] == 7
    assert proposal["mission_count"] == 20
    assert {m["estimated_minutes"] for m in missions} == {30}
    assert {m["energy_level"] for m in missions} == {"high"}
    repairs = " ".join(proposal["plan"]["repairs"])
    assert "clamped" in repairs and "merged" in repairs and "trimmed" in repairs and "duplicate" in repairs
    assert len(chat_server.requests) == 1


async def test_an_invalid_plan_gets_one_repair_round(model_api: Api, chat_server: ChatServer) -> None:
    chat_server.replies = [plan_json(milestones=2, missions_each=2), plan_json(milestones=3, missions_each=4)]
    goal = await model_api.goal()
    proposal = await model_api.post(f"/goals/{goal['id']}/decompose", expect=201)
    assert proposal["milestone_count"] == 3 and proposal["mission_count"] == 12
    assert proposal["plan"]["repairs"][0].startswith("repaired by the model after")
    second = chat_server.requests[1]["body"]["messages"][-1]["content"]
    assert "it needs 3 to 7" in second and "2 milestones" in second


@pytest.mark.parametrize(
    "replies",
    [
        [plan_json(milestones=2), plan_json(milestones=1)],  # still invalid after the repair round
        ["I cannot help with that.", "Still no."],  # never calls the function
        [500],  # the endpoint fails
        [{"milestones": "not a list"}, {"steps": []}],  # does not match the schema
    ],
    ids=["invalid-twice", "no-function-call", "server-error", "wrong-schema"],
)
async def test_a_failed_decomposition_is_502_and_saves_nothing(
    model_api: Api, chat_server: ChatServer, db: AsyncSession, replies: list[Any]
) -> None:
    chat_server.replies = list(replies)
    goal = await model_api.goal()
    error = await model_api.post(f"/goals/{goal['id']}/decompose", expect=502)
    assert error["error"]["code"] == "decomposition_failed"
    assert error["error"]["details"]["problems"]
    assert await count(db, DecompositionProposal) == 0
    assert await count(db, Mission) == 0


async def test_decompose_is_rate_limited_per_user_with_retry_after(api: Any, clock: FakeClock) -> None:
    me = api("user_a")
    goal = await me.goal()
    for _ in range(5):  # DECOMPOSE_RATE_LIMIT_PER_MINUTE defaults to 5
        await me.post(f"/goals/{goal['id']}/decompose", expect=201)
    response = await me.client.post(
        f"/api/v1/goals/{goal['id']}/decompose", headers=me.auth_headers("user_a")
    )
    assert response.status_code == 429
    assert 1 <= int(response.headers["retry-after"]) <= 60
    error = response.json()["error"]
    assert error["code"] == "rate_limited" and "decomposition" in error["message"]
    # Other users have their own window; unknown goals are 404 and are not counted.
    other = api("user_b")
    other_goal = await other.goal()
    await other.post(f"/goals/{uuid.uuid4()}/decompose", expect=404)
    await other.post(f"/goals/{other_goal['id']}/decompose", expect=201)


async def test_decompose_rate_limit_is_a_setting(
    app_factory: Any, settings_factory: Any, auth_headers: Any
) -> None:
    app = await app_factory(settings_factory(decompose_rate_limit_per_minute=2))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        headers = auth_headers("user_a")
        goal = await http.post(
            "/api/v1/goals",
            json={"title": "Learn the cello", "goal_type": "concrete", "value_category": "craft"},
            headers=headers,
        )
        assert goal.status_code == 201, goal.text
        path = f"/api/v1/goals/{goal.json()['id']}/decompose"
        codes = [(await http.post(path, headers=headers)).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
