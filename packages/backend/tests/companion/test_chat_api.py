"""The chat API end to end over the real app (offline responder), streaming through real Redis."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.companion.stream import stream_key
from app.memory import service as memory_service
from app.memory.embeddings import LocalEmbedder
from app.models import Conversation, EmotionalState, Message, ModelUsage
from app.users import repository as users
from tests.companion.openai_server import OpenAIServer, Script
from tests.companion.support import chat, parse_sse, send, stream

CHAT = "/api/v1/companion/chat"


async def test_chat_streams_an_offline_reply_and_persists_it(
    client: httpx.AsyncClient, auth_headers: Any, db: AsyncSession
) -> None:
    headers = auth_headers("user_a")
    accepted, sse = await chat(client, headers, "I'm so overwhelmed, I have three deadlines this week")
    assert set(accepted) == {"conversation_id", "message_id", "user_message_id", "stream_url"}
    assert accepted["stream_url"].startswith(f"/api/v1/companion/stream/{accepted['conversation_id']}")

    assert sse.retry == 2000
    assert [data["type"] for _, data in sse.events[:-1]] == ["token"] * (len(sse.events) - 1)
    assert sse.last == {
        "type": "complete",
        "conversation_id": accepted["conversation_id"],
        "message_id": accepted["message_id"],
    }
    assert all(event_id for event_id in sse.ids) and len(set(sse.ids)) == len(sse.ids)
    assert "you have three deadlines this week" in sse.text

    reply = await db.get(Message, uuid.UUID(accepted["message_id"]))
    assert reply is not None and reply.status == "complete" and reply.content == sse.text
    assert reply.role == "assistant" and str(reply.reply_to_id) == accepted["user_message_id"]
    assert reply.meta["responder"] == "offline" and reply.meta["model"] == "offline"
    assert reply.meta["emotion"]["emotion"] == "overwhelm"
    assert "acknowledge_feelings" in reply.meta["rules"]
    user_message = await db.get(Message, uuid.UUID(accepted["user_message_id"]))
    assert user_message is not None and user_message.meta["emotion"]["emotion"] == "overwhelm"
    usage = (await db.scalars(select(ModelUsage))).all()
    assert [(u.purpose, u.model, u.prompt_tokens, u.completion_tokens) for u in usage] == [
        ("reply", "offline", 0, 0)
    ]


async def test_stream_headers_and_the_legacy_path(client: httpx.AsyncClient, auth_headers: Any) -> None:
    headers = auth_headers("user_a")
    accepted, sse = await chat(client, headers, "hello")
    for path in (
        f"/api/v1/companion/stream/{accepted['conversation_id']}",
        f"/api/v1/sse/companion/stream/{accepted['conversation_id']}",
    ):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        assert parse_sse(response.text).events == sse.events  # the latest reply, replayed from the buffer


async def test_reconnecting_with_last_event_id_resumes_without_duplicates(
    client: httpx.AsyncClient, auth_headers: Any
) -> None:
    headers = auth_headers("user_a")
    accepted, full = await chat(client, headers, "I'm worried about my exam and my landlord keeps calling me")
    assert len(full.events) > 6
    for cut in (1, 3, len(full.events) - 2):
        resumed = await stream(client, headers, accepted, last_event_id=full.ids[cut - 1])
        assert resumed.events == full.events[cut:]
        assert "".join(full.tokens[:cut]) + resumed.text == full.text
    # A client that has everything is told to stop reconnecting (204, per the SSE spec).
    done = await client.get(accepted["stream_url"], headers={**headers, "Last-Event-ID": str(full.ids[-1])})
    assert done.status_code == 204


async def test_a_reply_whose_buffer_expired_is_served_from_the_database(
    client: httpx.AsyncClient, auth_headers: Any, redis: Redis, db: AsyncSession
) -> None:
    headers = auth_headers("user_a")
    accepted, sse = await chat(client, headers, "I had a nice lunch with my sister today")
    user = await users.get_by_clerk_id(db, "user_a")
    assert user is not None
    await redis.delete(stream_key(user.id, uuid.UUID(accepted["message_id"])))
    replay = await stream(client, headers, accepted)
    assert replay.text == sse.text and replay.last == sse.last
    resumed = await stream(client, headers, accepted, last_event_id=str(sse.ids[3]))
    assert resumed.tokens == [] and resumed.last["type"] == "complete"  # no duplicate text
    done = await client.get(
        accepted["stream_url"], headers={**headers, "Last-Event-ID": str(resumed.ids[-1])}
    )
    assert done.status_code == 204


async def test_a_dead_generation_ends_with_an_error_not_a_hang(
    client: httpx.AsyncClient, auth_headers: Any, db: AsyncSession
) -> None:
    """A reply left pending by a process that died (no lease, no events) is reported and settled."""
    headers = auth_headers("user_a")
    accepted, _ = await chat(client, headers, "hello")
    user = await users.get_by_clerk_id(db, "user_a")
    assert user is not None
    conversation_id = uuid.UUID(accepted["conversation_id"])
    question = Message(conversation_id=conversation_id, user_id=user.id, role="user", content="still there?")
    db.add(question)
    await db.flush()
    orphan = Message(
        conversation_id=conversation_id,
        user_id=user.id,
        role="assistant",
        status="pending",
        reply_to_id=question.id,
    )
    db.add(orphan)
    await db.commit()

    response = await client.get(f"/api/v1/companion/stream/{conversation_id}", headers=headers, timeout=10)
    sse = parse_sse(response.text)
    assert sse.last["type"] == "error"
    assert "interrupted" in sse.last["message"]
    await db.refresh(orphan)
    assert orphan.status == "failed"
    # The error was appended to the buffer: later readers get the same event and id.
    again = parse_sse((await client.get(f"/api/v1/companion/stream/{conversation_id}", headers=headers)).text)
    assert again.events == sse.events


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message": ""}, "message"),
        ({"message": "   "}, "message"),
        ({"message": "x" * 5001}, "message"),
        ({}, "message"),
        ({"message": "hi", "conversation_id": "not-a-uuid"}, "conversation_id"),
        ({"message": "hi", "extra": 1}, "extra"),
    ],
)
async def test_invalid_messages_are_422_naming_the_field(
    client: httpx.AsyncClient, auth_headers: Any, body: dict[str, Any], field: str
) -> None:
    response = await client.post(CHAT, json=body, headers=auth_headers("user_a"))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in [detail["field"] for detail in error["details"]]


async def test_the_longest_allowed_message_is_accepted(client: httpx.AsyncClient, auth_headers: Any) -> None:
    headers = auth_headers("user_a")
    _, sse = await chat(client, headers, "word " * 999 + "done")  # 4,999 characters
    assert sse.last["type"] == "complete"


async def test_chat_requires_a_session_token(client: httpx.AsyncClient) -> None:
    assert (await client.post(CHAT, json={"message": "hi"})).status_code == 401
    assert (await client.get(f"/api/v1/companion/stream/{uuid.uuid4()}")).status_code == 401


async def test_continuing_a_conversation_uses_its_history_and_the_previous_emotional_state(
    client: httpx.AsyncClient, auth_headers: Any, db: AsyncSession
) -> None:
    headers = auth_headers("user_a")
    first, _ = await chat(client, headers, "I'm so exhausted, I barely slept")
    state = (await client.get("/api/v1/companion/state", headers=headers)).json()
    assert state["emotion"] == "fatigue" and state["energy"] == "low"
    assert state["message_id"] == first["user_message_id"]

    second, sse = await chat(client, headers, "hi", first["conversation_id"])
    assert second["conversation_id"] == first["conversation_id"]
    assert sse.text == "Hi! Last time we spoke you were feeling drained. How are you doing now?"
    conversation = await db.get(Conversation, uuid.UUID(first["conversation_id"]))
    assert conversation is not None and conversation.title == "I'm so exhausted, I barely slept"


async def test_a_second_message_while_the_reply_is_generated_is_409(
    app_factory: Any, settings_factory: Any, model_server: OpenAIServer, auth_headers: Any
) -> None:
    """The model holds the first reply until the test releases it, so the second message provably
    arrives while the reply is in flight."""
    release = threading.Event()
    model_server.script = Script(reply="Thanks for waiting, I am here.", hold=release)
    app = await app_factory(
        settings_factory(
            openai_api_key="sk-test-local",
            openai_base_url=model_server.url,
            companion_model="test-model",
            companion_max_retries=0,
        )
    )
    headers = auth_headers("user_a")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        try:
            accepted = await send(client, headers, "hello there")
            assert await asyncio.to_thread(model_server.reply_requested.wait, 10), "no reply was requested"
            again = {"message": "again", "conversation_id": accepted["conversation_id"]}

            response = await client.post(CHAT, json=again, headers=headers)
            assert response.status_code == 409, response.text
            error = response.json()["error"]
            assert error["code"] == "conflict"
            assert error["details"]["message_id"] == accepted["message_id"]
            detail = await client.get(
                f"/api/v1/companion/conversations/{accepted['conversation_id']}", headers=headers
            )
            # Nothing was added by the refused message.
            assert [m["status"] for m in detail.json()["messages"]] == ["complete", "pending"]
        finally:
            release.set()
        sse = await stream(client, headers, accepted)
        assert sse.last["type"] == "complete" and sse.text == "Thanks for waiting, I am here."

        response = await client.post(CHAT, json=again, headers=headers)
        assert response.status_code == 202, response.text
        assert (await stream(client, headers, response.json())).last["type"] == "complete"


async def test_chat_without_redis_is_503_and_stores_nothing(
    app_factory: Any, settings_factory: Any, auth_headers: Any, db: AsyncSession
) -> None:
    """REDIS_URL unset: the API runs, but a reply cannot be streamed, so chat answers 503."""
    app = await app_factory(settings_factory(redis_url=None))
    headers = auth_headers("user_a")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.post(CHAT, json={"message": "hello"}, headers=headers)
        assert response.status_code == 503, response.text
        error = response.json()["error"]
        assert error["code"] == "dependency_unavailable" and "REDIS_URL" in error["message"]
        for model in (Conversation, Message, ModelUsage):
            assert (await db.scalars(select(model))).all() == [], model
        # What needs no Redis keeps working.
        listed = await client.get("/api/v1/companion/conversations", headers=headers)
        assert listed.status_code == 200 and listed.json()["items"] == []


async def test_rate_limit_is_20_messages_a_minute_with_retry_after(
    client: httpx.AsyncClient, auth_headers: Any
) -> None:
    headers = auth_headers("user_a")
    for _ in range(20):
        assert (await client.post(CHAT, json={"message": "hi"}, headers=headers)).status_code == 202
    limited = await client.post(CHAT, json={"message": "hi"}, headers=headers)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json()["error"]["code"] == "rate_limited"
    # Another user has their own window.
    assert (
        await client.post(CHAT, json={"message": "hi"}, headers=auth_headers("user_b"))
    ).status_code == 202


async def test_rate_limit_is_a_setting(app_factory: Any, settings_factory: Any, auth_headers: Any) -> None:
    app = await app_factory(settings_factory(companion_chat_rate_limit_per_minute=2))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        headers = auth_headers("user_a")
        codes = [
            (await http.post(CHAT, json={"message": "hi"}, headers=headers)).status_code for _ in range(3)
        ]
    assert codes == [202, 202, 429]


async def test_conversations_list_detail_and_history(client: httpx.AsyncClient, auth_headers: Any) -> None:
    headers = auth_headers("user_a")
    first, _ = await chat(client, headers, "First conversation")
    _, _ = await chat(client, headers, "A follow-up", first["conversation_id"])
    second, _ = await chat(client, headers, "Second conversation")

    page = (await client.get("/api/v1/companion/conversations", headers=headers)).json()
    assert page["total"] == 2 and [c["id"] for c in page["items"]] == [
        second["conversation_id"],
        first["conversation_id"],
    ]
    assert page["items"][1]["title"] == "First conversation"
    one = (await client.get("/api/v1/companion/conversations?limit=1&offset=1", headers=headers)).json()
    assert [c["id"] for c in one["items"]] == [first["conversation_id"]] and one["total"] == 2

    detail = (
        await client.get(f"/api/v1/companion/conversations/{first['conversation_id']}", headers=headers)
    ).json()
    assert detail["total_messages"] == 4
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant", "user", "assistant"]
    assert detail["messages"][2]["content"] == "A follow-up"
    assert all(m["status"] == "complete" for m in detail["messages"])
    paged = (
        await client.get(
            f"/api/v1/companion/conversations/{first['conversation_id']}?limit=2&offset=2", headers=headers
        )
    ).json()
    assert paged["messages"][0]["content"] == "A follow-up" and paged["total_messages"] == 4

    history = (await client.get("/api/v1/companion/history?limit=3", headers=headers)).json()["messages"]
    assert [m["role"] for m in history] == ["assistant", "user", "assistant"]
    assert history[1]["content"] == "Second conversation"
    scoped = (
        await client.get(
            f"/api/v1/companion/history?conversation_id={first['conversation_id']}", headers=headers
        )
    ).json()["messages"]
    assert len(scoped) == 4
    assert (await client.get("/api/v1/companion/history?limit=0", headers=headers)).status_code == 422
    assert (await client.get("/api/v1/companion/history?limit=201", headers=headers)).status_code == 422


async def test_state_is_404_before_the_first_message(client: httpx.AsyncClient, auth_headers: Any) -> None:
    response = await client.get("/api/v1/companion/state", headers=auth_headers("user_new"))
    assert response.status_code == 404


async def test_usage_per_model(client: httpx.AsyncClient, auth_headers: Any) -> None:
    headers = auth_headers("user_a")
    await chat(client, headers, "hello")
    await chat(client, headers, "hi again")
    models = (await client.get("/api/v1/companion/usage", headers=headers)).json()["models"]
    assert [(m["model"], m["calls"], m["prompt_tokens"]) for m in models] == [("offline", 2, 0)]


async def test_every_endpoint_is_scoped_to_its_user(client: httpx.AsyncClient, auth_headers: Any) -> None:
    alice, bob = auth_headers("user_alice"), auth_headers("user_bob")
    accepted, _ = await chat(client, alice, "Alice's secret worry about her job")
    conversation = accepted["conversation_id"]

    # Bob cannot read, stream, continue or list Alice's conversation: her ids are 404 to him.
    assert (
        await client.get(f"/api/v1/companion/conversations/{conversation}", headers=bob)
    ).status_code == 404
    assert (await client.get(f"/api/v1/companion/stream/{conversation}", headers=bob)).status_code == 404
    assert (await client.get(f"/api/v1/sse/companion/stream/{conversation}", headers=bob)).status_code == 404
    own, _ = await chat(client, bob, "Bob's message")
    foreign_reply = f"/api/v1/companion/stream/{own['conversation_id']}?message_id={accepted['message_id']}"
    assert (await client.get(foreign_reply, headers=bob)).status_code == 404
    response = await client.post(
        CHAT, json={"message": "hijack", "conversation_id": conversation}, headers=bob
    )
    assert response.status_code == 404
    assert (
        await client.get(f"/api/v1/companion/history?conversation_id={conversation}", headers=bob)
    ).status_code == 404

    listed = (await client.get("/api/v1/companion/conversations", headers=bob)).json()
    assert [c["id"] for c in listed["items"]] == [own["conversation_id"]]
    history = (await client.get("/api/v1/companion/history", headers=bob)).json()["messages"]
    assert "Alice" not in " ".join(m["content"] for m in history)
    assert (await client.get("/api/v1/companion/state", headers=bob)).json()["message_id"] == own[
        "user_message_id"
    ]
    usage = (await client.get("/api/v1/companion/usage", headers=bob)).json()["models"]
    assert usage[0]["calls"] == 1
    # An unknown conversation is 404 as well.
    assert (
        await client.get(f"/api/v1/companion/conversations/{uuid.uuid4()}", headers=alice)
    ).status_code == 404
    response = await client.post(
        CHAT, json={"message": "x", "conversation_id": str(uuid.uuid4())}, headers=alice
    )
    assert response.status_code == 404


async def test_export_contains_conversations_state_and_usage(
    client: httpx.AsyncClient, auth_headers: Any
) -> None:
    headers = auth_headers("user_a")
    accepted, sse = await chat(client, headers, "I'm anxious about the launch")
    export = (await client.get("/api/v1/users/me/export", headers=headers)).json()
    [conversation] = export["conversations"]
    assert conversation["id"] == accepted["conversation_id"]
    assert [(m["role"], m["content"]) for m in conversation["messages"]] == [
        ("user", "I'm anxious about the launch"),
        ("assistant", sse.text),
    ]
    assert export["companion"]["emotional_state"]["emotion"] == "fear"
    assert export["companion"]["model_usage"][0]["model"] == "offline"


async def test_erasing_the_user_removes_rows_and_redis_keys(
    client: httpx.AsyncClient, auth_headers: Any, db: AsyncSession, redis: Redis
) -> None:
    headers = auth_headers("user_a")
    await chat(client, headers, "hello")
    await chat(client, auth_headers("user_b"), "hello")
    user = await users.get_by_clerk_id(db, "user_a")
    assert user is not None
    assert await redis.keys(f"companion:{user.id}:*")

    assert (await client.delete("/api/v1/users/me", headers=headers)).status_code == 204
    assert await redis.keys(f"companion:{user.id}:*") == []
    assert len(await redis.keys("companion:*")) > 0  # user_b's keys stay
    for model in (Conversation, Message, EmotionalState, ModelUsage):
        rows = (await db.scalars(select(model).where(model.user_id == user.id))).all()
        assert rows == [], model


def _zone_where_it_is(hour: int) -> str:
    """An Etc/GMT zone whose local time now is ``hour``:xx (Etc/GMT-3 is UTC+3)."""
    offset = (hour - datetime.now(UTC).hour) % 24
    if offset > 14:
        offset -= 24
    return "UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


async def test_circuit_breaker_end_to_end_uses_memories_and_the_users_timezone(
    client: httpx.AsyncClient, auth_headers: Any, db: AsyncSession, embedder: LocalEmbedder
) -> None:
    headers = auth_headers("user_late")
    assert (
        await client.patch("/api/v1/users/me", json={"timezone": _zone_where_it_is(21)}, headers=headers)
    ).status_code == 200
    user = await users.get_by_clerk_id(db, "user_late")
    assert user is not None
    worries = ["rent", "the thesis", "my dad's health", "the car", "my visa", "the team reorg"]
    for worry in worries:
        await memory_service.remember(
            db,
            embedder,
            user_id=user.id,
            tier="personal",
            content=f"I'm stressed about {worry}",
            source="test",
            metadata={"kind": "stressor", "status": "open", "category": "other"},
        )
    await memory_service.remember(
        db,
        embedder,
        user_id=user.id,
        tier="personal",
        content="I love reading fantasy novels in the bath",
        source="test",
        metadata={"kind": "preference", "restorative": True, "polarity": "positive"},
    )
    await db.commit()

    _, sse = await chat(client, headers, "I'm so overwhelmed, I can't do this anymore")
    assert "6 worries" in sse.text
    assert "how about reading fantasy novels in the bath for a little while?" in sse.text
    assert "Then only one micro-task" in sse.text
