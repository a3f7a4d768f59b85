"""The OpenAI-compatible path against a local server speaking chat.completions (the real client runs)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.companion.reply.prompt import SYSTEM_PROMPT
from app.memory import service as memory_service
from app.memory.embeddings import LocalEmbedder
from app.models import Conversation, EmotionalState, Message, ModelUsage
from app.users import repository as users
from tests.companion.openai_server import OpenAIServer, Script
from tests.companion.support import chat, parse_sse, send


async def test_reply_streams_from_the_model_with_usage_and_model_emotion(
    model_client: httpx.AsyncClient, model_server: OpenAIServer, auth_headers: Any, db: AsyncSession
) -> None:
    headers = auth_headers("user_a")
    accepted, sse = await chat(model_client, headers, "I'm nervous about tomorrow's demo")
    assert sse.tokens == ["Hello ", "from ", "the ", "model. ", "How ", "can ", "I ", "help ", "today?"]
    assert sse.last["type"] == "complete"

    reply = await db.get(Message, uuid.UUID(accepted["message_id"]))
    assert reply is not None and reply.status == "complete"
    assert reply.content == "Hello from the model. How can I help today?"
    assert reply.meta["responder"] == "model" and reply.meta["model"] == "test-model"
    state = await db.get(EmotionalState, (await users.get_by_clerk_id(db, "user_a")).id)  # type: ignore[union-attr]
    assert state is not None and (state.emotion, state.intensity, state.energy, state.source) == (
        "fear",
        0.7,
        "low",
        "test-model",
    )
    usage = {u.purpose: u for u in (await db.scalars(select(ModelUsage))).all()}
    assert set(usage) == {"emotion", "reply"}
    assert (usage["reply"].model, usage["reply"].prompt_tokens, usage["reply"].completion_tokens) == (
        "test-model",
        42,
        9,
    )
    assert usage["reply"].ok and usage["reply"].latency_ms >= 0
    assert str(usage["reply"].conversation_id) == accepted["conversation_id"]
    assert (usage["emotion"].prompt_tokens, usage["emotion"].completion_tokens) == (42, 9)

    [request] = model_server.chat_requests()
    assert request["model"] == "test-model" and request["temperature"] == 0.7
    assert request["stream"] is True and request["stream_options"] == {"include_usage": True}
    assert request["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert "Detected emotion: fear (intensity 0.70), energy: low" in request["messages"][1]["content"]
    assert request["messages"][-1] == {"role": "user", "content": "I'm nervous about tomorrow's demo"}
    assert all(r["auth"] == "Bearer sk-test-local" for r in model_server.requests)


async def test_prompt_carries_recalled_memories_with_their_tier(
    model_client: httpx.AsyncClient,
    model_server: OpenAIServer,
    auth_headers: Any,
    db: AsyncSession,
    embedder: LocalEmbedder,
) -> None:
    headers = auth_headers("user_a")
    user = await users.provision(db, "user_a")
    await memory_service.remember(
        db,
        embedder,
        user_id=user.id,
        tier="personal",
        content="I love long walks with my dog",
        source="test",
        metadata={"kind": "preference"},
    )
    await memory_service.remember(
        db,
        embedder,
        user_id=user.id,
        tier="project",
        content="I want to run a marathon in May",
        source="companion",
        metadata={"kind": "goal"},
    )
    await db.commit()
    await chat(model_client, headers, "How can I fit my marathon training and dog walks into this week?")
    context = model_server.chat_requests()[0]["messages"][1]["content"]
    assert "  - [personal] I love long walks with my dog" in context
    assert "  - [project] I want to run a marathon in May" in context
    assert "Goals: your goal to run a marathon in May" in context


async def test_prompt_has_the_last_ten_messages_and_a_summary_of_older_ones(
    model_client: httpx.AsyncClient, model_server: OpenAIServer, auth_headers: Any, db: AsyncSession
) -> None:
    headers = auth_headers("user_a")
    user = await users.provision(db, "user_a")
    conversation = Conversation(user_id=user.id, title="long")
    db.add(conversation)
    await db.flush()
    for n in range(14):
        db.add(
            Message(
                conversation_id=conversation.id,
                user_id=user.id,
                role="user" if n % 2 == 0 else "assistant",
                content=f"message number {n}. More words here.",
            )
        )
        await db.flush()
    await db.commit()

    await chat(model_client, headers, "And now?", str(conversation.id))
    messages = model_server.chat_requests()[0]["messages"]
    history = messages[2:-1]
    assert [m["content"] for m in history] == [f"message number {n}. More words here." for n in range(4, 14)]
    assert [m["role"] for m in history] == ["user", "assistant"] * 5
    summary = messages[1]["content"].split("Earlier in this conversation (summary):\n", 1)[1]
    assert summary.splitlines() == [
        "- User: message number 0.",
        "- Eliza: More words here.",
        "- User: message number 2.",
        "- Eliza: More words here.",
    ]


@pytest.mark.parametrize(
    ("mode", "partial"),
    [
        ("stall", ""),  # no response headers: the client's timeout
        ("error500", ""),
        ("stall_mid", "Hello from "),  # the stream stops mid-way: read timeout
        ("broken", "Hello from "),  # the connection is cut mid-chunk
        ("unfinished", "Hello from "),  # the stream ends without a finish_reason
    ],
)
async def test_model_failures_end_the_stream_with_an_error_event(
    model_client: httpx.AsyncClient,
    model_server: OpenAIServer,
    auth_headers: Any,
    db: AsyncSession,
    mode: str,
    partial: str,
) -> None:
    model_server.script = Script(mode=mode)
    headers = auth_headers("user_a")
    accepted = await send(model_client, headers, "Tell me something")
    response = await model_client.get(accepted["stream_url"], headers=headers, timeout=30)
    assert response.status_code == 200
    sse = parse_sse(response.text)
    assert sse.text == partial
    assert sse.last == {"type": "error", "message": "Eliza could not finish this reply. Please try again."}

    reply = await db.get(Message, uuid.UUID(accepted["message_id"]))
    assert reply is not None and reply.status == "failed" and reply.content == partial
    usage = (await db.scalars(select(ModelUsage).where(ModelUsage.purpose == "reply"))).one()
    assert usage.ok is False
    # The conversation goes on: the failed reply is not sent to the model as history.
    model_server.script = Script()
    _, sse = await chat(model_client, headers, "Try again", accepted["conversation_id"])
    assert sse.last["type"] == "complete"
    history = model_server.chat_requests()[-1]["messages"][2:]
    assert [m["content"] for m in history] == ["Tell me something", "Try again"]


async def test_a_failed_request_is_retried(
    app_factory: Any, model_settings: Any, model_server: OpenAIServer, auth_headers: Any
) -> None:
    model_server.script = Script(fail_first=1)
    settings = model_settings.model_copy(
        update={"companion_max_retries": 1, "companion_emotion_detection": "offline"}
    )
    app = await app_factory(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        _, sse = await chat(http, auth_headers("user_a"), "hello")
    assert sse.last["type"] == "complete"
    assert len(model_server.requests) == 2  # the 500, then the retry; no emotion call


async def test_an_invalid_emotion_answer_falls_back_to_the_lexicon(
    model_client: httpx.AsyncClient, model_server: OpenAIServer, auth_headers: Any, db: AsyncSession
) -> None:
    model_server.script = Script(emotion_json='{"emotion": "furious-ish", "intensity": 9}')
    accepted, sse = await chat(model_client, auth_headers("user_a"), "I'm so exhausted today")
    assert sse.last["type"] == "complete"
    user_message = await db.get(Message, uuid.UUID(accepted["user_message_id"]))
    assert user_message is not None and user_message.meta["emotion"]["emotion"] == "fatigue"
    assert user_message.meta["emotion"]["source"] == "offline"
    emotion_usage = (await db.scalars(select(ModelUsage).where(ModelUsage.purpose == "emotion"))).one()
    assert emotion_usage.ok is False
