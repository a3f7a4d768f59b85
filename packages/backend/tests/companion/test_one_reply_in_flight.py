"""At most one reply in flight per conversation, held by the database under concurrency.

The replies here come from the local OpenAI-protocol server, which holds every reply stream until
the test releases it: a reply stays in flight for exactly as long as the test needs, so the
outcome of each race is deterministic.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from app.companion import repository
from app.companion.stream import INTERRUPTED
from app.core.config import Settings
from app.core.database_url import to_async_url
from app.db.migrate import run_migrations
from app.models import Conversation, Message
from app.users import repository as users
from tests.companion.openai_server import OpenAIServer
from tests.companion.support import send, stream
from tests.foundation.test_migrations import alembic_config, fresh_database  # noqa: F401 - fixture

CHAT = "/api/v1/companion/chat"


@pytest.fixture
async def held(
    app_factory: Any, settings_factory: Any, model_server: OpenAIServer
) -> AsyncIterator[tuple[httpx.AsyncClient, threading.Event]]:
    """The app on the model server, whose reply streams wait until the event is set."""
    gate = threading.Event()
    model_server.script.hold = gate
    settings: Settings = settings_factory(
        openai_api_key="sk-test-local",
        openai_base_url=model_server.url,
        companion_model="test-model",
        companion_emotion_detection="offline",
        companion_timeout_seconds=30.0,
        companion_max_retries=0,
        companion_chat_rate_limit_per_minute=100,
    )
    app = await app_factory(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http, gate
        gate.set()


async def _at_once(
    http: httpx.AsyncClient, headers: dict[str, str], bodies: list[dict[str, Any]]
) -> list[httpx.Response]:
    return list(await asyncio.gather(*(http.post(CHAT, json=body, headers=headers) for body in bodies)))


def _assert_conflict(response: httpx.Response, details: dict[str, str]) -> None:
    assert response.status_code == 409, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "conflict"
    assert body["error"]["message"].startswith("Eliza is")
    assert body["error"]["request_id"]
    assert body["error"]["details"] == details


async def _messages(db: AsyncSession, conversation_id: str) -> list[tuple[str, str, str]]:
    rows = await db.scalars(
        select(Message).where(Message.conversation_id == uuid.UUID(conversation_id)).order_by(Message.seq)
    )
    return [(m.role, m.status, m.content) for m in rows]


async def test_ten_messages_at_once_get_one_202_and_nine_409s(
    held: tuple[httpx.AsyncClient, threading.Event], auth_headers: Any, db: AsyncSession
) -> None:
    http, gate = held
    headers = auth_headers("user_race")
    gate.set()
    first = await send(http, headers, "Let's plan my week")
    assert (await stream(http, headers, first)).last["type"] == "complete"
    conversation_id = first["conversation_id"]

    gate.clear()  # from here on a reply stays in flight until the gate opens
    bodies = [{"message": f"Message {n}", "conversation_id": conversation_id} for n in range(10)]
    responses = await _at_once(http, headers, bodies)

    codes = sorted(r.status_code for r in responses)
    assert codes == [202] + [409] * 9, [r.text for r in responses]
    winner = next(r.json() for r in responses if r.status_code == 202)
    for response in responses:
        if response.status_code == 409:
            _assert_conflict(response, {"message_id": winner["message_id"]})

    # Nothing of the nine refused messages was written; the winner's reply is the one in flight.
    rows = await _messages(db, conversation_id)
    assert [(role, status) for role, status, _ in rows] == [
        ("user", "complete"),
        ("assistant", "complete"),
        ("user", "complete"),
        ("assistant", "pending"),
    ]
    winning_text = next(
        body["message"] for body, r in zip(bodies, responses, strict=True) if r.status_code == 202
    )
    assert rows[2][2] == winning_text

    gate.set()
    assert (await stream(http, headers, winner)).last["type"] == "complete"
    # The slot is free again once the reply has finished.
    after = await http.post(
        CHAT, json={"message": "Thanks", "conversation_id": conversation_id}, headers=headers
    )
    assert after.status_code == 202, after.text
    assert (await stream(http, headers, after.json())).last["type"] == "complete"


async def test_a_first_message_sent_five_times_at_once_with_one_key_starts_one_conversation(
    held: tuple[httpx.AsyncClient, threading.Event], auth_headers: Any, db: AsyncSession
) -> None:
    """A double submit or a retry carries the same Idempotency-Key: one message, one conversation,
    and every request gets the same answer."""
    http, gate = held
    headers = {**auth_headers("user_double"), "Idempotency-Key": "b1946ac9-first-message"}
    responses = await _at_once(http, headers, [{"message": "I feel stuck with my thesis"}] * 5)

    assert [r.status_code for r in responses] == [202] * 5, [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    assert sorted(r.headers.get("Idempotent-Replayed", "") for r in responses) == [""] + ["true"] * 4
    accepted = responses[0].json()
    user = await users.get_by_clerk_id(db, "user_double")
    assert user is not None
    assert await db.scalar(select(func.count()).where(Conversation.user_id == user.id)) == 1
    assert [(role, status) for role, status, _ in await _messages(db, accepted["conversation_id"])] == [
        ("user", "complete"),
        ("assistant", "pending"),
    ]

    gate.set()
    assert (await stream(http, headers, accepted)).last["type"] == "complete"
    # A retry after the reply finished is answered the same way, still without a new message.
    retry = await http.post(CHAT, json={"message": "I feel stuck with my thesis"}, headers=headers)
    assert (retry.status_code, retry.json(), retry.headers["Idempotent-Replayed"]) == (202, accepted, "true")
    assert await db.scalar(select(func.count()).where(Message.user_id == user.id)) == 2


async def test_without_a_key_each_first_message_is_its_own_conversation(
    held: tuple[httpx.AsyncClient, threading.Event], auth_headers: Any
) -> None:
    """Without a key the service cannot tell a double submit from two tabs starting two chats, so
    every message without a conversation_id starts one (as documented)."""
    http, gate = held
    headers = auth_headers("user_tabs")
    responses = await _at_once(http, headers, [{"message": "hello"}, {"message": "hello"}])
    assert [r.status_code for r in responses] == [202, 202], [r.text for r in responses]
    assert len({r.json()["conversation_id"] for r in responses}) == 2
    gate.set()
    for response in responses:
        assert (await stream(http, headers, response.json())).last["type"] == "complete"


async def test_a_key_used_for_another_message_is_refused_and_keys_are_per_user(
    client: httpx.AsyncClient, auth_headers: Any, db: AsyncSession
) -> None:
    alice = {**auth_headers("user_alice"), "Idempotency-Key": "k-1"}
    first = await send(client, alice, "Plan my Monday")
    await stream(client, alice, first)

    reused = await client.post(CHAT, json={"message": "Something else"}, headers=alice)
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert reused.json()["error"]["details"] == {"conversation_id": first["conversation_id"]}
    elsewhere = await client.post(
        CHAT, json={"message": "Plan my Monday", "conversation_id": str(uuid.uuid4())}, headers=alice
    )
    assert elsewhere.status_code == 404  # an unknown conversation is reported before the key

    # Bob's requests never see Alice's keys.
    bob = {**auth_headers("user_bob"), "Idempotency-Key": "k-1"}
    theirs = await send(client, bob, "Plan my Monday")
    assert theirs["conversation_id"] != first["conversation_id"]
    await stream(client, bob, theirs)
    assert await db.scalar(select(func.count()).select_from(Message)) == 4

    too_long = await client.post(
        CHAT, json={"message": "hi"}, headers={**alice, "Idempotency-Key": "k" * 201}
    )
    assert too_long.status_code == 422
    [detail] = too_long.json()["error"]["details"]
    assert (detail["field"], detail["location"]) == ("Idempotency-Key", "header")


async def test_a_dead_reply_does_not_block_the_conversation(
    client: httpx.AsyncClient, auth_headers: Any, db: AsyncSession
) -> None:
    """A pending reply whose process died (no lease) is settled as interrupted, and the new message
    is accepted; its readers then see the interruption."""
    headers = auth_headers("user_dead")
    user = await users.provision(db, "user_dead")
    conversation = await repository.create_conversation(db, user.id, "t")
    opening = await repository.add_user_message(db, user.id, conversation.id, "Are you there?")
    dead = await repository.add_pending_reply(db, opening)
    assert dead is not None
    await db.commit()

    accepted = await send(client, headers, "Hello again", str(conversation.id))
    await db.refresh(dead)
    assert (dead.status, dead.meta["error"]) == ("failed", INTERRUPTED)
    assert (await stream(client, headers, accepted)).last["type"] == "complete"
    old = await stream(
        client, headers, {"stream_url": accepted["stream_url"].split("?")[0] + f"?message_id={dead.id}"}
    )
    assert old.last == {"type": "error", "message": INTERRUPTED}


async def test_the_index_refuses_a_second_pending_reply_whoever_inserts_it(
    db: AsyncSession, engine: AsyncEngine
) -> None:
    user = await users.provision(db, "user_index")
    # Many times over: after five executions PostgreSQL may plan the prepared INSERT generically,
    # and ON CONFLICT must still find the partial index then.
    for _ in range(8):
        conversation = await repository.create_conversation(db, user.id, "t")
        first = await repository.add_user_message(db, user.id, conversation.id, "one")
        second = await repository.add_user_message(db, user.id, conversation.id, "two")
        assert await repository.add_pending_reply(db, first) is not None
        assert await repository.add_pending_reply(db, second) is None
    await db.commit()
    # Even a plain INSERT, bypassing the repository, cannot break the rule.
    async with engine.connect() as connection:
        with pytest.raises(Exception, match="uq_conversation_messages_one_in_flight"):
            await connection.execute(
                text(
                    "INSERT INTO conversation_messages (conversation_id, user_id, role, status, reply_to_id)"
                    " VALUES (:c, :u, 'assistant', 'pending', :r)"
                ),
                {"c": conversation.id, "u": user.id, "r": second.id},
            )


async def test_the_migration_settles_replies_left_pending_side_by_side(
    fresh_database: str,  # noqa: F811 - the fixture imported above
) -> None:
    config = alembic_config(fresh_database)
    await asyncio.to_thread(run_migrations, fresh_database, "0005")
    db_url = to_async_url(fresh_database)
    engine = create_async_engine(db_url.url, connect_args=db_url.connect_args)
    try:
        async with engine.begin() as connection:
            user_id = (
                await connection.execute(
                    text("INSERT INTO users (clerk_user_id) VALUES ('user_m') RETURNING id")
                )
            ).scalar_one()
            conversation_id = (
                await connection.execute(
                    text("INSERT INTO conversations (user_id, title) VALUES (:u, 't') RETURNING id"),
                    {"u": user_id},
                )
            ).scalar_one()
            for n in range(3):
                asked = (
                    await connection.execute(
                        text(
                            "INSERT INTO conversation_messages (conversation_id, user_id, role, content)"
                            " VALUES (:c, :u, 'user', :t) RETURNING id"
                        ),
                        {"c": conversation_id, "u": user_id, "t": f"message {n}"},
                    )
                ).scalar_one()
                await connection.execute(
                    text(
                        "INSERT INTO conversation_messages"
                        " (conversation_id, user_id, role, status, reply_to_id)"
                        " VALUES (:c, :u, 'assistant', 'pending', :r)"
                    ),
                    {"c": conversation_id, "u": user_id, "r": asked},
                )
        await asyncio.to_thread(command.upgrade, config, "0007")
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text(
                        "SELECT status, metadata->>'error' FROM conversation_messages"
                        " WHERE role = 'assistant' ORDER BY seq"
                    )
                )
            ).all()
        assert [tuple(row) for row in rows] == [
            ("failed", INTERRUPTED),
            ("failed", INTERRUPTED),
            ("pending", None),
        ]
    finally:
        await engine.dispose()
