"""The graph's nodes as plain functions, on the real database, memory service and Redis."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from langgraph.runtime import Runtime
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.companion import repository
from app.companion.language.emotion import EmotionReading
from app.companion.reply.graph import (
    TurnDeps,
    TurnState,
    goal_context,
    recall_context,
    receive_input,
    respond,
    store_memory,
)
from app.companion.stream import StreamWriter
from app.core.config import Settings
from app.core.database_url import to_async_url
from app.memory import service as memory_service
from app.memory.embeddings import LocalEmbedder
from app.models import Conversation, EmotionalState, Message, ModelUsage, User
from app.users import repository as users

NOW = datetime(2031, 3, 4, 12, 30, tzinfo=UTC)


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
async def turn(db: AsyncSession) -> dict[str, Any]:
    """A user (in Tokyo) with a conversation: two earlier turns and a new message with its pending reply."""
    user = await users.provision(db, "user_graph")
    user.timezone, user.display_name = "Asia/Tokyo", "Kenji Sato"
    conversation = await repository.create_conversation(db, user.id, "t")
    for role, content in [
        ("user", "My launch is on Friday."),
        ("assistant", "How are you feeling about it?"),
    ]:
        await repository.add_message(
            db, conversation_id=conversation.id, user_id=user.id, role=role, content=content
        )
    message = await repository.add_message(
        db,
        conversation_id=conversation.id,
        user_id=user.id,
        role="user",
        content="I'm terrified it will flop",
    )
    reply = await repository.add_message(
        db,
        conversation_id=conversation.id,
        user_id=user.id,
        role="assistant",
        status="pending",
        reply_to_id=message.id,
    )
    await repository.save_emotional_state(
        db, user.id, emotion="fatigue", intensity=0.6, energy="low", source="offline", message_id=None
    )
    await db.commit()
    return {"user": user, "conversation": conversation, "message": message, "reply": reply}


def deps(
    settings: Settings, sessions: Any, redis: Redis, embedder: LocalEmbedder, turn: dict[str, Any]
) -> TurnDeps:
    return TurnDeps(
        settings=settings,
        sessions=sessions,
        embedder=lambda: embedder,
        chat_model=None,
        writer=StreamWriter(redis, turn["user"].id, turn["reply"].id, 60),
        jobs=None,
        clock=lambda: NOW,
    )


def initial(turn: dict[str, Any]) -> TurnState:
    return {
        "user_id": turn["user"].id,
        "conversation_id": turn["conversation"].id,
        "user_message_id": turn["message"].id,
        "user_seq": turn["message"].seq,
        "reply_id": turn["reply"].id,
        "message": turn["message"].content,
    }


async def test_receive_input_loads_the_turns_context_and_detects_the_emotion(
    settings: Settings, sessions: Any, redis: Redis, embedder: LocalEmbedder, turn: dict[str, Any]
) -> None:
    update = await receive_input(
        initial(turn), Runtime(context=deps(settings, sessions, redis, embedder, turn))
    )
    assert update["local_time"].isoformat() == "2031-03-04T21:30:00+09:00"
    assert update["display_name"] == "Kenji Sato"
    assert [(h.role, h.content) for h in update["history"]] == [
        ("user", "My launch is on Friday."),
        ("assistant", "How are you feeling about it?"),
    ]
    assert update["turn_index"] == 1
    assert update["previous"] == EmotionReading("fatigue", 0.6, "low", "offline")
    assert update["emotion"].emotion == "fear" and update["emotion"].intensity >= 0.8
    assert update["usage"] == []


async def test_recall_context_follows_the_tier_strategy_and_reads_stressors_and_breaks(
    settings: Settings,
    sessions: Any,
    redis: Redis,
    embedder: LocalEmbedder,
    turn: dict[str, Any],
    db: AsyncSession,
) -> None:
    user_id = turn["user"].id
    for content, tier, meta, source in [
        ("I love swimming in the sea", "personal", {"kind": "preference", "restorative": True}, "companion"),
        (
            "I'm stressed about the launch budget",
            "personal",
            {"kind": "stressor", "status": "open"},
            "companion",
        ),
        ("I'm worried about my visa", "personal", {"kind": "stressor", "status": "open"}, "companion"),
        ("I was worried about the move", "personal", {"kind": "stressor", "status": "resolved"}, "companion"),
        ("I want to ship the launch on Friday", "project", {"kind": "goal"}, "companion"),
        # An app goal's memory (written by the planning domain): named by its title, never read out.
        ("Goal (craft, concrete): Launch v2. Importance 4/5.", "project", {"kind": "goal"}, "goal"),
    ]:
        await memory_service.remember(
            db, embedder, user_id=user_id, tier=tier, content=content, source=source, metadata=meta
        )
    await db.commit()
    state = {**initial(turn), "message": "I'm scared the launch plan will fail on Friday"}
    update = await recall_context(state, Runtime(context=deps(settings, sessions, redis, embedder, turn)))
    assert update["recall_failed"] is False
    tiers = [note.tier for note in update["memories"]]
    assert "personal" in tiers and "project" in tiers  # the message is about plans
    assert tiers == sorted(tiers, key=["personal", "project", "task"].index)
    assert update["open_stressors"] == 2
    assert update["restorative"] == ["I love swimming in the sea"]
    assert update["goals"] == ["I want to ship the launch on Friday"]


async def test_when_recall_fails_the_turn_goes_on_without_memories(
    settings: Settings, redis: Redis, embedder: LocalEmbedder, turn: dict[str, Any], services: Any
) -> None:
    db_url = to_async_url(services.database_url.replace("delight_test", "no_such_database"))
    broken = create_async_engine(db_url.url, connect_args=db_url.connect_args)
    try:
        runtime = Runtime(context=deps(settings, async_sessionmaker(broken), redis, embedder, turn))
        update = await recall_context(initial(turn), runtime)
    finally:
        await broken.dispose()
    assert update == {
        "memories": [],
        "recall_failed": True,
        "open_stressors": 0,
        "goals": [],
        "restorative": [],
    }

    state: TurnState = {
        **initial(turn),
        **update,
        "emotion": EmotionReading("fear", 0.8, "medium"),
        "local_time": NOW,
    }
    answer = await respond(state, Runtime(context=deps(settings, None, redis, embedder, turn)))
    assert answer["reply"] and answer["error"] is None


async def test_respond_streams_the_offline_reply_into_the_buffer(
    settings: Settings, sessions: Any, redis: Redis, embedder: LocalEmbedder, turn: dict[str, Any]
) -> None:
    context = deps(settings, sessions, redis, embedder, turn)
    state: TurnState = {
        **initial(turn),
        "emotion": EmotionReading("fear", 0.8, "medium"),
        "local_time": NOW,
        "usage": [],
    }
    update = await respond(state, Runtime(context=context))
    assert update["responder"] == "offline" and update["error"] is None
    assert update["rules"][0] == "acknowledge_feelings"
    buffered = await redis.xrange(context.writer.key)
    assert "".join(json.loads(fields[b"data"])["content"] for _, fields in buffered) == update["reply"]
    assert [row["purpose"] for row in update["usage"]] == ["reply"]


async def test_store_memory_persists_the_turn_and_queues_memory_formation(
    settings: Settings,
    sessions: Any,
    redis: Redis,
    embedder: LocalEmbedder,
    turn: dict[str, Any],
    db: AsyncSession,
) -> None:
    assert settings.redis_url
    pool: ArqRedis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        context = deps(settings, sessions, redis, embedder, turn)
        context.jobs = pool
        state: TurnState = {
            **initial(turn),
            "emotion": EmotionReading("fear", 0.85, "medium"),
            "reply": "That sounds scary.",
            "responder": "offline",
            "model": "offline",
            "rules": ["acknowledge_feelings"],
            "usage": [
                {
                    "purpose": "reply",
                    "model": "offline",
                    "prompt_tokens": 0,
                    "completion_tokens": 0,
                    "latency_ms": 3,
                    "ok": True,
                }
            ],
            "error": None,
        }
        assert await store_memory(state, Runtime(context=context)) == {"stored": True}
        assert await pool.exists(f"arq:job:companion-form:{turn['message'].id}")
        # A second store (e.g. a duplicate run) changes nothing.
        assert await store_memory(state, Runtime(context=context)) == {"stored": False}
    finally:
        await pool.aclose()
    reply_id, user_id, message_id = turn["reply"].id, turn["user"].id, turn["message"].id
    db.expire_all()
    reply = await db.get(Message, reply_id)
    assert reply is not None and (reply.status, reply.content) == ("complete", "That sounds scary.")
    state_row = await db.get(EmotionalState, user_id)
    assert state_row is not None and (state_row.emotion, state_row.message_id) == ("fear", message_id)
    [usage] = (await db.scalars(select(ModelUsage))).all()
    assert usage.message_id == reply_id and usage.latency_ms == 3


async def test_store_memory_after_the_user_was_erased_stores_nothing(
    settings: Settings,
    sessions: Any,
    redis: Redis,
    embedder: LocalEmbedder,
    turn: dict[str, Any],
    db: AsyncSession,
) -> None:
    await users.delete_user(db, turn["user"].id)
    await db.commit()
    state: TurnState = {
        **initial(turn),
        "emotion": EmotionReading("fear", 0.85, "medium"),
        "reply": "x",
        "responder": "offline",
        "model": "offline",
        "error": None,
    }
    assert await store_memory(state, Runtime(context=deps(settings, sessions, redis, embedder, turn))) == {
        "stored": False
    }
    assert (await db.scalars(select(Conversation))).all() == []
    assert (await db.scalars(select(User))).all() == []


async def test_this_conversations_own_exchanges_are_not_recalled_again(
    settings: Settings,
    sessions: Any,
    redis: Redis,
    embedder: LocalEmbedder,
    turn: dict[str, Any],
    db: AsyncSession,
) -> None:
    user_id, conversation_id = turn["user"].id, turn["conversation"].id
    other = await repository.create_conversation(db, user_id, "earlier")
    for content, conversation in [
        ("User: My launch is on Friday.\nEliza: How are you feeling about it?", conversation_id),
        ("User: The launch rehearsal went badly.\nEliza: What went wrong?", other.id),
    ]:
        await memory_service.remember(
            db,
            embedder,
            user_id=user_id,
            tier="task",
            content=content,
            source="test",
            metadata={"kind": "exchange"},
            conversation_id=conversation,
        )
    await db.commit()
    update = await recall_context(
        initial(turn), Runtime(context=deps(settings, sessions, redis, embedder, turn))
    )
    assert [note.content.split("\n")[0] for note in update["memories"] if note.tier == "task"] == [
        "User: The launch rehearsal went badly."
    ]


async def test_when_the_goal_context_fails_the_turn_goes_on_without_it(
    settings: Settings, redis: Redis, embedder: LocalEmbedder, turn: dict[str, Any], services: Any
) -> None:
    db_url = to_async_url(services.database_url.replace("delight_test", "no_such_database"))
    broken = create_async_engine(db_url.url, connect_args=db_url.connect_args)
    try:
        runtime = Runtime(context=deps(settings, async_sessionmaker(broken), redis, embedder, turn))
        update = await goal_context(initial(turn), runtime)
    finally:
        await broken.dispose()
    assert update == {"plan": None, "plan_failed": True}

    state: TurnState = {
        **initial(turn),
        **update,
        "emotion": EmotionReading("fatigue", 0.6, "low"),
        "local_time": NOW,
    }
    answer = await respond(state, Runtime(context=deps(settings, None, redis, embedder, turn)))
    assert answer["reply"] and answer["error"] is None
