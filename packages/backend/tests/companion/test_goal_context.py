"""Eliza sees the user's goals and missions (app.planning.companion_context): in the offline
replies and in the model's prompt, only ever the signed-in user's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.companion.language.emotion import detect_emotion
from app.companion.reply.offline import compose_reply
from app.companion.reply.rules import TurnContext, analyse
from app.models import Goal, Mission
from app.planning import CompanionGoalContext, MissionSummary, companion_context
from app.users import repository as users
from tests.companion.openai_server import OpenAIServer
from tests.companion.support import chat

API = "/api/v1"


async def _goal(
    client: httpx.AsyncClient, headers: dict[str, str], title: str, *missions: tuple[str, int, str]
) -> str:
    response = await client.post(
        f"{API}/goals",
        json={"title": title, "goal_type": "concrete", "value_category": "health", "importance": 4},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    goal_id: str = response.json()["id"]
    for mission_title, minutes, energy in missions:
        created = await client.post(
            f"{API}/missions",
            json={
                "goal_id": goal_id,
                "title": mission_title,
                "estimated_minutes": minutes,
                "energy_level": energy,
            },
            headers=headers,
        )
        assert created.status_code == 201, created.text
    return goal_id


RUNNING = (
    ("Jog 15 minutes", 15, "medium"),
    ("Lay out running shoes", 10, "low"),
    ("Run 5 km at race pace", 30, "high"),
)


async def test_low_energy_reply_offers_the_smallest_pending_mission(
    client: httpx.AsyncClient, auth_headers: Any
) -> None:
    headers = auth_headers("user_a")
    await _goal(client, headers, "Run a 10k", *RUNNING)
    _, sse = await chat(client, headers, "I'm exhausted and have no energy today")
    assert sse.last["type"] == "complete"
    assert "a 10-minute step: “Lay out running shoes”" in sse.text


async def test_talking_about_goals_names_the_active_goal_and_the_triads_top_mission(
    client: httpx.AsyncClient, auth_headers: Any
) -> None:
    headers = auth_headers("user_a")
    await _goal(client, headers, "Run a 10k", *RUNNING)
    triad = await client.get(f"{API}/missions/triad?energy=high", headers=headers)
    assert triad.status_code == 200
    top = triad.json()["missions"][0]["mission"]
    _, sse = await chat(client, headers, "How am I doing with my goals this week?")
    assert "Your active goal is “Run a 10k”" in sse.text
    assert f"today's top mission is “{top['title']}” ({top['estimated_minutes']} minutes)" in sse.text


async def test_without_a_stored_triad_the_next_open_mission_is_named(
    client: httpx.AsyncClient, auth_headers: Any
) -> None:
    headers = auth_headers("user_a")
    await _goal(client, headers, "Learn Spanish", ("Review 20 flashcards", 15, "medium"))
    _, sse = await chat(client, headers, "Where do I stand on my progress?")
    assert "Your active goal is “Learn Spanish”, and your next mission is “Review 20 flashcards”" in sse.text


async def test_another_users_goals_and_missions_never_appear(
    client: httpx.AsyncClient, auth_headers: Any, db: AsyncSession
) -> None:
    await _goal(
        client, auth_headers("user_b"), "Write a secret novel", ("Outline the secret chapter", 10, "low")
    )
    headers_a = auth_headers("user_a")
    for message in ("How am I doing with my goals?", "I'm exhausted and have no energy today", "hello"):
        _, sse = await chat(client, headers_a, message)
        assert sse.last["type"] == "complete"
        assert "secret" not in sse.text.lower(), sse.text
    user_a = await users.provision(db, "user_a")
    await db.commit()
    assert await companion_context(db, user_a.id, datetime.now(UTC)) == CompanionGoalContext()


async def test_the_prompt_carries_the_goals_missions_and_only_this_users(
    model_client: httpx.AsyncClient, model_server: OpenAIServer, auth_headers: Any, db: AsyncSession
) -> None:
    user_a = await users.provision(db, "user_a")
    user_b = await users.provision(db, "user_b")
    for user, title, mission in (
        (user_a, "Run a 10k", "Lay out running shoes"),
        (user_b, "Write a secret novel", "Outline the secret chapter"),
    ):
        goal = Goal(user_id=user.id, title=title, goal_type="concrete", value_category="health", importance=4)
        db.add(goal)
        await db.flush()
        db.add(
            Mission(
                user_id=user.id,
                goal_id=goal.id,
                title=mission,
                estimated_minutes=10,
                energy_level="low",
                value_category="health",
                essence_reward=10,
            )
        )
    await db.commit()

    await chat(model_client, auth_headers("user_a"), "What should I work on for my goals today?")
    context = model_server.chat_requests()[0]["messages"][1]["content"]
    assert "- Active goals in the app: 'Run a 10k' (health)" in context
    assert "- Next open missions: 'Lay out running shoes' (10 min, low energy)" in context
    assert "secret" not in context.lower()


def test_circuit_breaker_micro_task_is_a_pending_low_energy_mission() -> None:
    late = datetime(2031, 3, 4, 21, 30, tzinfo=UTC)
    message = "I'm so overwhelmed, everything is falling apart"
    micro = MissionSummary("Lay out running shoes", 10, "low", "Run a 10k")
    plan = CompanionGoalContext(missions=(micro,), small_win=micro, micro_task=micro)
    ctx = TurnContext(
        message=message, emotion=detect_emotion(message), local_time=late, open_stressors=6, plan=plan
    )
    guidance = analyse(ctx)
    assert guidance.circuit_breaker
    text = compose_reply(ctx, guidance)
    assert "only one micro-task: open “Lay out running shoes” and do just its first two minutes" in text
    assert text.count("micro-task") == 1
