"""No pooled database connection waits on the model: with a pool of two connections and 30 replies
stuck in slow model calls, unrelated requests are served, and no connection sits idle in a
transaction. The model is a local server speaking OpenAI's protocol, slowed down on purpose."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.companion import repository
from app.companion.formation import service as formation
from app.core.database import create_engine, create_session_factory
from app.core.llm import build_chat_model
from app.memory.embeddings import LocalEmbedder
from app.users import repository as users
from tests.companion.openai_server import OpenAIServer, Script
from tests.companion.support import parse_sse

IN_FLIGHT = 30
IDLE_IN_TRANSACTION = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
)


async def test_slow_model_calls_do_not_hold_database_connections(
    app_factory: Any, settings_factory: Any, auth_headers: Any, db: AsyncSession
) -> None:
    with OpenAIServer(Script(token_delay=0.25)) as model:
        settings = settings_factory(
            openai_api_key="sk-test-local",
            openai_base_url=model.url,
            companion_model="test-model",
            companion_emotion_detection="offline",
            companion_timeout_seconds=10,
            database_pool_size=2,
            database_max_overflow=0,
            database_pool_timeout_seconds=3,
            user_cache_ttl_seconds=0,  # unrelated requests below read the database every time
        )
        app = await app_factory(settings)
        pool = app.state.resources.engine.pool
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=30
        ) as http:
            users = [auth_headers(f"user_slow_{n}") for n in range(IN_FLIGHT)]
            accepted = []
            for headers in users:
                response = await http.post("/api/v1/companion/chat", json={"message": "hi"}, headers=headers)
                assert response.status_code == 202
                accepted.append(response.json())
            for _ in range(500):  # every reply is now waiting on the model
                if len(model.chat_requests()) >= IN_FLIGHT:
                    break
                await asyncio.sleep(0.01)
            assert len(model.chat_requests()) == IN_FLIGHT

            # While they wait: nothing holds a connection, nothing is idle in a transaction…
            assert pool.checkedout() == 0
            assert await db.scalar(IDLE_IN_TRANSACTION) == 0
            # …and unrelated requests are served by the two pooled connections.
            other = auth_headers("user_unrelated")
            for path in ("/api/v1/users/me", "/api/v1/memories", "/api/v1/companion/conversations"):
                response = await http.get(path, headers=other)
                assert response.status_code == 200, (path, response.text)
            pending = await db.scalar(
                text("SELECT count(*) FROM conversation_messages WHERE status = 'pending'")
            )
            assert pending == IN_FLIGHT  # the replies were still waiting on the model meanwhile

            streams = await asyncio.gather(
                *(http.get(a["stream_url"], headers=h) for a, h in zip(accepted, users, strict=True))
            )
        assert all(parse_sse(s.text).last["type"] == "complete" for s in streams)


async def test_memory_formation_holds_no_connection_while_the_model_extracts(
    db: AsyncSession, settings_factory: Any, local_embedder: LocalEmbedder
) -> None:
    user = await users.provision(db, "user_formation_slow")
    conversation = await repository.create_conversation(db, user.id, "t")
    message = await repository.add_message(
        db, conversation_id=conversation.id, user_id=user.id, role="user", content="I love gardening."
    )
    await repository.add_message(
        db,
        conversation_id=conversation.id,
        user_id=user.id,
        role="assistant",
        content="Nice!",
        status="complete",
        reply_to_id=message.id,
    )
    await db.commit()
    facts = '{"facts": [{"kind": "preference", "content": "I love gardening"}]}'
    with OpenAIServer(Script(json_delay=1.0, facts_json=facts)) as model:
        settings = settings_factory(openai_base_url=model.url, companion_model="test-model")
        engine = create_engine(settings)
        try:
            forming = asyncio.create_task(
                formation.form_memories(
                    create_session_factory(engine),
                    lambda: local_embedder,
                    build_chat_model(settings),
                    None,
                    message.id,
                )
            )
            for _ in range(500):
                if model.requests:
                    break
                await asyncio.sleep(0.01)
            assert model.requests and not forming.done()  # the extraction call is in flight
            assert engine.pool.checkedout() == 0
            assert await db.scalar(IDLE_IN_TRANSACTION) == 0
            assert [item["memories"] for item in await forming] == [2]  # the exchange and the fact
        finally:
            await engine.dispose()
