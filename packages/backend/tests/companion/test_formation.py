"""Memory formation after replies: exchange → task memory, stated facts → personal/project memories."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis
from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.companion import repository
from app.companion.formation import service as formation
from app.companion.stream import stream_key
from app.core.config import Settings
from app.core.llm import build_chat_model
from app.memory.embeddings import LocalEmbedder
from app.models import Memory, MemoryTier, Message, ModelUsage
from app.users import repository as users
from tests.companion.openai_server import OpenAIServer, Script
from tests.companion.support import chat


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def exchange(
    db: AsyncSession, user_id: uuid.UUID, text: str, reply: str = "Tell me more.", status: str = "complete"
) -> Message:
    conversation = await repository.create_conversation(db, user_id, "t")
    message = await repository.add_message(
        db, conversation_id=conversation.id, user_id=user_id, role="user", content=text
    )
    await repository.add_message(
        db,
        conversation_id=conversation.id,
        user_id=user_id,
        role="assistant",
        content=reply,
        status=status,
        reply_to_id=message.id,
    )
    await db.commit()
    return message


async def memories(db: AsyncSession, user_id: uuid.UUID) -> list[tuple[str, str, dict[str, Any]]]:
    rows = await db.scalars(
        select(Memory).where(Memory.user_id == user_id).order_by(Memory.created_at, Memory.content)
    )
    return [(str(m.tier), m.content, m.meta) for m in rows]


async def test_an_exchange_becomes_a_task_memory_and_stated_facts_are_extracted(
    db: AsyncSession, sessions: Any, embedder: LocalEmbedder
) -> None:
    user = await users.provision(db, "user_f")
    message = await exchange(
        db, user.id, "I'm a nurse and my rent is stressing me out. I love gardening.", "That sounds heavy."
    )
    done = await formation.form_memories(sessions, lambda: embedder, None, None, message.id)
    assert done == [{"message_id": str(message.id), "memories": 4}]

    stored = {(tier, content): meta for tier, content, meta in await memories(db, user.id)}
    exchange_meta = stored.pop(
        (
            "task",
            "User: I'm a nurse and my rent is stressing me out. I love gardening.\nEliza: That sounds heavy.",
        )
    )
    assert exchange_meta["kind"] == "exchange" and exchange_meta["message_id"] == str(message.id)
    assert stored[("personal", "I'm a nurse")]["kind"] == "identity"
    assert stored[("personal", "My rent is stressing me out")] | {"intensity": None} == {
        "kind": "stressor",
        "category": "money",
        "status": "open",
        "intensity": None,
        "extracted_by": "rules",
        "message_id": str(message.id),
    }
    assert stored[("personal", "I love gardening")]["restorative"] is True
    formed = await db.get(Message, message.id, populate_existing=True)
    assert formed is not None and formed.memories_formed_at is not None
    assert [m["kind"] for m in formed.meta["memories"]] == ["exchange", "identity", "stressor", "preference"]

    # Idempotent: running again (ARQ may run a job twice) does nothing.
    assert await formation.form_memories(sessions, lambda: embedder, None, None, message.id) == []
    assert len(await memories(db, user.id)) == 4


async def test_the_same_fact_said_twice_is_stored_once(
    db: AsyncSession, sessions: Any, embedder: LocalEmbedder
) -> None:
    user = await users.provision(db, "user_f")
    first = await exchange(db, user.id, "I love gardening.")
    second = await exchange(db, user.id, "Honestly, I love gardening.")
    await formation.form_memories(sessions, lambda: embedder, None, None, second.id)
    personal = [m for m in await memories(db, user.id) if m[0] == "personal"]
    assert [content for _, content, _ in personal] == ["I love gardening"]
    assert (await db.get(Message, first.id, populate_existing=True)).memories_formed_at is not None  # type: ignore[union-attr]


async def test_only_the_users_own_words_are_extracted(
    db: AsyncSession, sessions: Any, embedder: LocalEmbedder
) -> None:
    """Facts in Eliza's reply (which may quote recalled memories or the prompt) never become memories."""
    user = await users.provision(db, "user_f")
    message = await exchange(
        db,
        user.id,
        "Any ideas for tonight?",
        "You mentioned before that I love hiking. I want to run a marathon. My goal is to learn Rust.",
    )
    await formation.form_memories(sessions, lambda: embedder, None, None, message.id)
    assert [tier for tier, _, _ in await memories(db, user.id)] == ["task"]


async def test_messages_are_formed_in_order_and_an_unfinished_reply_waits(
    db: AsyncSession, sessions: Any, embedder: LocalEmbedder
) -> None:
    user = await users.provision(db, "user_f")
    first = await exchange(db, user.id, "I want to learn Italian this year.")
    second = await exchange(db, user.id, "I'm a teacher.")
    waiting = await exchange(db, user.id, "I plan to visit Rome in May.", "", status="pending")
    fourth = await exchange(db, user.id, "I love opera.")

    done = await formation.form_memories(sessions, lambda: embedder, None, None, second.id)
    assert [d["message_id"] for d in done] == [str(first.id), str(second.id)]  # oldest first, then stops
    await db.execute(
        update(Message).where(Message.reply_to_id == waiting.id).values(status="complete", content="Nice.")
    )
    await db.commit()
    done = await formation.form_memories(sessions, lambda: embedder, None, None, waiting.id)
    assert [d["message_id"] for d in done] == [str(waiting.id), str(fourth.id)]
    facts = [content for tier, content, _ in await memories(db, user.id) if tier != "task"]
    assert facts == [
        "I want to learn Italian this year",
        "I'm a teacher",
        "I plan to visit Rome in May",
        "I love opera",
    ]


async def test_with_a_model_the_extraction_is_validated_and_recorded(
    db: AsyncSession, sessions: Any, embedder: LocalEmbedder, settings_factory: Any
) -> None:
    facts = {
        "facts": [
            {"kind": "identity", "content": "I'm a pilot"},
            {
                "kind": "stressor",
                "content": "My check ride is stressing me out",
                "category": "work",
                "intensity": 0.8,
            },
            {"kind": "goal", "content": "I want to climb Everest"},  # not said: dropped
        ]
    }
    with OpenAIServer(Script(facts_json=json.dumps(facts))) as server:
        settings = settings_factory(openai_base_url=server.url, companion_model="test-model")
        model = build_chat_model(settings)
        user = await users.provision(db, "user_f")
        message = await exchange(db, user.id, "I'm a pilot and my check ride next week is stressing me out.")
        await formation.form_memories(sessions, lambda: embedder, model, None, message.id)
    stored = {content: meta for tier, content, meta in await memories(db, user.id) if tier != "task"}
    assert set(stored) == {"I'm a pilot", "My check ride is stressing me out"}
    assert stored["My check ride is stressing me out"]["intensity"] == 0.8
    assert {meta["extracted_by"] for meta in stored.values()} == {"test-model"}
    usage = (await db.scalars(select(ModelUsage))).one()
    assert (usage.purpose, usage.model, usage.prompt_tokens, usage.ok) == (
        "extraction",
        "test-model",
        42,
        True,
    )
    assert server.requests[0]["body"]["messages"][-1]["content"] == message.content  # only the user's words


async def test_a_failing_model_falls_back_to_the_rules(
    db: AsyncSession, sessions: Any, embedder: LocalEmbedder, settings_factory: Any
) -> None:
    with OpenAIServer(Script(mode="error500", chat_mode_only=False)) as server:
        settings = settings_factory(openai_base_url=server.url, companion_max_retries=0)
        user = await users.provision(db, "user_f")
        message = await exchange(db, user.id, "I love gardening.")
        await formation.form_memories(
            sessions, lambda: embedder, build_chat_model(settings), None, message.id
        )
    personal = [
        (content, meta["extracted_by"])
        for tier, content, meta in await memories(db, user.id)
        if tier == "personal"
    ]
    assert personal == [("I love gardening", "rules")]
    assert (await db.scalars(select(ModelUsage))).one().ok is False


async def test_the_worker_forms_memories_after_a_chat(
    client: httpx.AsyncClient, auth_headers: Any, db: AsyncSession, settings: Settings, run_worker: Any
) -> None:
    headers = auth_headers("user_w")
    accepted, _ = await chat(client, headers, "I'm a designer and I love long walks with my dog.")
    await run_worker(settings)
    user = await users.get_by_clerk_id(db, "user_w")
    assert user is not None
    stored = await memories(db, user.id)
    assert {(tier, meta["kind"]) for tier, _, meta in stored} == {
        ("task", "exchange"),
        ("personal", "identity"),
        ("personal", "preference"),
    }
    assert all(
        str(m.conversation_id) == accepted["conversation_id"]
        for m in (await db.scalars(select(Memory))).all()
    )

    # The next turn recalls them: the offline responder refers to the preference.
    _, sse = await chat(
        client, headers, "I need to unwind after work, my walks usually help", accepted["conversation_id"]
    )
    assert "You mentioned before that you love long walks with your dog." in sse.text


async def test_the_sweeper_settles_dead_replies_and_queues_missed_formation(
    db: AsyncSession, sessions: Any, redis: Redis, pool: ArqRedis, settings: Settings, run_worker: Any
) -> None:
    user = await users.provision(db, "user_s")
    dead = await exchange(db, user.id, "I love opera.", "Half a rep", status="pending")
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    await db.execute(
        update(Message).where(Message.user_id == user.id).values(updated_at=long_ago, created_at=long_ago)
    )
    await db.commit()

    result = await formation.sweep(
        sessions,
        pool,
        stale_after=timedelta(minutes=5),
        unformed_after=timedelta(minutes=2),
        stream_ttl_seconds=60,
    )
    assert result == {"settled": 1, "queued": 1}
    reply = (await db.scalars(select(Message).where(Message.reply_to_id == dead.id))).one()
    await db.refresh(reply)
    assert (reply.status, reply.content) == ("failed", "Half a rep")
    [(_, fields)] = await redis.xrange(stream_key(user.id, reply.id))
    assert json.loads(fields[b"data"])["type"] == "error"

    await run_worker(settings)
    assert [tier for tier, _, _ in await memories(db, user.id)] == [
        "personal"
    ]  # no exchange: the reply failed
    assert await formation.sweep(
        sessions,
        pool,
        stale_after=timedelta(minutes=5),
        unformed_after=timedelta(minutes=2),
        stream_ttl_seconds=60,
    ) == {"settled": 0, "queued": 0}


async def test_tiers_of_formed_memories(db: AsyncSession, sessions: Any, embedder: LocalEmbedder) -> None:
    user = await users.provision(db, "user_f")
    message = await exchange(db, user.id, "My goal is to launch the beta by March. I'm an engineer.")
    await formation.form_memories(sessions, lambda: embedder, None, None, message.id)
    rows = (await db.scalars(select(Memory).where(Memory.user_id == user.id))).all()
    assert sorted((m.tier, m.source) for m in rows) == [
        (MemoryTier.personal, "companion"),
        (MemoryTier.project, "companion"),
        (MemoryTier.task, "companion"),
    ]
