"""The embedding backfill isolates a memory the provider always rejects: retried alone, marked,
backed off, while every other memory (of every user) is embedded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.memory.embeddings import create_embedder
from app.memory.maintenance import backoff, embed_pending
from app.memory.service import content_hash
from app.models import Memory, MemoryTier
from app.users import repository as users
from tests.memory.openai_server import OpenAIEmbeddingsServer

POISON = "a text the provider refuses"
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


async def seed(db: AsyncSession, texts_by_user: dict[str, list[str]]) -> None:
    minute = 0
    for clerk_id, texts in texts_by_user.items():
        user = await users.provision(db, clerk_id)
        for text in texts:
            minute += 1
            db.add(
                Memory(
                    user_id=user.id,
                    tier=MemoryTier.task,
                    content=text,
                    content_hash=content_hash(text),
                    source="test",
                    meta={},
                    created_at=NOW - timedelta(hours=1) + timedelta(minutes=minute),
                )
            )
    await db.commit()


async def state(db: AsyncSession) -> dict[str, tuple[bool, int, datetime | None]]:
    db.expire_all()
    rows = await db.execute(
        select(Memory.content, Memory.embedding_model, Memory.embedding_failures, Memory.embedding_retry_at)
    )
    return {content: (model is not None, failures, retry) for content, model, failures, retry in rows}


async def test_one_rejected_memory_no_longer_stops_the_backfill_for_everyone(
    openai_settings: Settings, openai_server: OpenAIEmbeddingsServer, db: AsyncSession, engine: AsyncEngine
) -> None:
    # The poisoned memory is the oldest, so it is in the first batch (of 4) of every run.
    await seed(
        db,
        {
            "user_poison": [f"{POISON} #1", "walked the dog", "read a chapter"],
            **{f"user_{n}": [f"note {n} one", f"note {n} two"] for n in range(4)},
        },
    )
    openai_server.rejected = {POISON}
    embedder = create_embedder(openai_settings)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        report = await embed_pending(sessions, embedder, batch_size=4, now=NOW)
        assert (report.embedded, report.isolated, report.failed) == (10, 1, True)
        rows = await state(db)
        assert rows.pop(f"{POISON} #1") == (False, 1, NOW + backoff(1))  # marked, backing off
        assert all(embedded for embedded, _, _ in rows.values())  # everyone else is embedded

        # Within its back-off the poisoned memory is not even tried: nothing is sent.
        sent = len(openai_server.embedding_requests)
        again = await embed_pending(sessions, embedder, batch_size=4, now=NOW + timedelta(minutes=10))
        assert (again.embedded, again.isolated, again.failed) == (0, 0, False)
        assert len(openai_server.embedding_requests) == sent

        # After it, it is retried alone and backs off longer (15 min, 30 min, ... at most a day).
        later = await embed_pending(sessions, embedder, batch_size=4, now=NOW + timedelta(minutes=16))
        assert later.isolated == 1
        assert (await state(db))[f"{POISON} #1"] == (False, 2, NOW + timedelta(minutes=16) + backoff(2))
        assert [backoff(n) for n in (1, 2, 3, 8, 50)] == [
            timedelta(minutes=15),
            timedelta(minutes=30),
            timedelta(hours=1),
            timedelta(days=1),
            timedelta(days=1),
        ]

        # Once the provider accepts it, it is embedded and its marks are cleared.
        openai_server.rejected = set()
        done = await embed_pending(sessions, embedder, batch_size=4, now=NOW + timedelta(days=2))
        assert (done.embedded, done.isolated, done.failed) == (1, 0, False)
        assert (await state(db))[f"{POISON} #1"] == (True, 0, None)
    finally:
        await embedder.aclose()


async def test_a_provider_outage_stops_the_run_without_marking_everyone(
    openai_settings: Settings, openai_server: OpenAIEmbeddingsServer, db: AsyncSession, engine: AsyncEngine
) -> None:
    await seed(db, {"user_a": [f"memory {n}" for n in range(6)]})
    openai_server.failing = True
    embedder = create_embedder(openai_settings)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        report = await embed_pending(sessions, embedder, batch_size=6, now=NOW)
    finally:
        await embedder.aclose()
    assert (report.embedded, report.failed) == (0, True)
    rows = await state(db)
    # The batch and two single attempts failed: the provider is down, the rest are left untried.
    assert len(openai_server.embedding_requests) == 3
    assert sorted(failures for _, failures, _ in rows.values()) == [0, 0, 0, 0, 1, 1]


async def test_new_text_clears_the_marks(
    openai_client: Any, openai_server: OpenAIEmbeddingsServer, db: AsyncSession, auth_headers: Any
) -> None:
    openai_server.rejected = {POISON}
    headers = auth_headers("user_edit")
    created = await openai_client.post(
        "/api/v1/memories", json={"tier": "task", "content": f"{POISON} today"}, headers=headers
    )
    assert created.json()["embedded"] is False
    memory = (await db.scalars(select(Memory))).one()
    memory.embedding_failures, memory.embedding_retry_at = 3, NOW + timedelta(days=1)
    await db.commit()
    patched = await openai_client.patch(
        f"/api/v1/memories/{memory.id}", json={"content": "something else"}, headers=headers
    )
    assert patched.json()["embedded"] is True
    assert (await state(db))["something else"] == (True, 0, None)
