"""Memory jobs on a real ARQ worker (burst mode) against the test Redis, and `delight memory reembed`."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from arq.connections import ArqRedis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.memory.embeddings import LOCAL_MODEL_NAME
from app.memory.tasks import embed_pending_memories, prune_task_memories
from app.models import Memory, MemoryTier
from app.users import repository as users
from app.workers.main import cron_jobs
from tests.memory.openai_server import OpenAIEmbeddingsServer
from tests.support.services import ServiceURLs

NOW = datetime(2031, 3, 1, 2, 0, tzinfo=UTC)
BACKEND_DIR = Path(__file__).resolve().parents[2]


async def seed(
    db: AsyncSession,
    user_id: uuid.UUID,
    tier: MemoryTier,
    content: str,
    created: datetime,
    accessed: datetime,
) -> uuid.UUID:
    memory = Memory(
        user_id=user_id,
        tier=tier,
        content=content,
        content_hash=uuid.uuid4().hex,
        source="test",
        meta={},
        created_at=created,
        updated_at=created,
        accessed_at=accessed,
    )
    db.add(memory)
    await db.flush()
    return memory.id


async def test_prune_job_deletes_only_stale_task_memories(
    db: AsyncSession, settings_factory: Any, pool: ArqRedis, run_worker: Any
) -> None:
    user = await users.provision(db, "user_prune")
    old, recent = NOW - timedelta(days=45), NOW - timedelta(days=3)
    stale = [await seed(db, user.id, MemoryTier.task, f"old task {i}", old, old) for i in range(5)]
    kept = [
        await seed(db, user.id, MemoryTier.task, "old but used lately", old, recent),
        await seed(db, user.id, MemoryTier.task, "new task", recent, recent),
        await seed(db, user.id, MemoryTier.personal, "old personal", old, old),
        await seed(db, user.id, MemoryTier.project, "old project", old, old),
    ]
    await db.commit()
    settings = settings_factory(memory_prune_batch_size=2)

    job = await prune_task_memories.enqueue(pool, NOW.isoformat())
    assert job is not None
    worker = await run_worker(settings)
    assert worker.jobs_failed == 0
    result = await job.result(timeout=5)
    assert result["deleted"] == 5 and result["batches"] == 3
    assert result["cutoff"] == (NOW - timedelta(days=30)).isoformat()
    left = set((await db.execute(select(Memory.id))).scalars())
    assert left == set(kept) and not left & set(stale)

    again = await prune_task_memories.enqueue(pool, NOW.isoformat())
    assert again is not None
    await run_worker(settings)
    assert (await again.result(timeout=5))["deleted"] == 0  # idempotent


def test_prune_is_a_daily_cron_at_the_configured_time(settings_factory: Any) -> None:
    jobs = {job.name: job for job in cron_jobs(settings_factory(memory_prune_hour=3, memory_prune_minute=30))}
    prune = jobs["cron:prune_task_memories"]
    assert (prune.hour, prune.minute, prune.second) == (3, 30, 0)
    default = {job.name: job for job in cron_jobs(settings_factory())}["cron:prune_task_memories"]
    assert (default.hour, default.minute) == (2, 0)
    assert "cron:embed_pending_memories" in jobs


async def test_provider_failure_then_embed_job_fills_the_embedding(
    openai_client: httpx.AsyncClient,
    openai_server: OpenAIEmbeddingsServer,
    openai_settings: Settings,
    auth_headers: Any,
    run_worker: Any,
    db: AsyncSession,
) -> None:
    headers = auth_headers("user_flaky")
    openai_server.failing = True
    created = await openai_client.post(
        "/api/v1/memories",
        json={"tier": "personal", "content": "My cat Miso hates the vacuum."},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["embedded"] is False
    # Search still answers (lexical component only) while the provider is down.
    search = await openai_client.get("/api/v1/memories/search", params={"q": "Miso"}, headers=headers)
    assert search.status_code == 200
    assert [r["memory"]["id"] for r in search.json()["results"]] == [created.json()["id"]]

    openai_server.failing = False
    worker = await run_worker(openai_settings)  # runs the job the request enqueued after its commit
    assert worker.jobs_complete >= 1 and worker.jobs_failed == 0
    memory = (
        await db.execute(select(Memory).where(Memory.id == uuid.UUID(created.json()["id"])))
    ).scalar_one()
    assert memory.embedding is not None and len(memory.embedding) == 384
    assert memory.embedding_model == "text-embedding-3-small"
    fetched = await openai_client.get(f"/api/v1/memories/{memory.id}", headers=headers)
    assert fetched.json()["embedded"] is True


async def test_provider_down_answers_201(
    app_factory: Any, settings_factory: Any, auth_headers: Any, unused_port: int
) -> None:
    settings = settings_factory(
        embedding_provider="openai",
        openai_api_key="sk-x",
        openai_base_url=f"http://127.0.0.1:{unused_port}/v1",
    )
    app = await app_factory(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.post(
            "/api/v1/memories",
            json={"tier": "task", "content": "Sent the invoice."},
            headers=auth_headers("u1"),
        )
    assert response.status_code == 201
    assert response.json()["embedded"] is False


async def test_embed_job_leaves_rows_for_later_when_the_provider_is_still_down(
    openai_settings: Settings,
    openai_server: OpenAIEmbeddingsServer,
    db: AsyncSession,
    pool: ArqRedis,
    run_worker: Any,
) -> None:
    user = await users.provision(db, "user_later")
    await seed(db, user.id, MemoryTier.task, "pending", NOW, NOW)
    await db.commit()
    openai_server.failing = True
    job = await embed_pending_memories.enqueue(pool)
    assert job is not None
    await run_worker(openai_settings)
    # A single memory failing alone cannot be told from an outage: it backs off (retried later).
    assert await job.result(timeout=5) == {"embedded": 0, "failed": True, "isolated": 1}
    assert (await db.execute(select(Memory.embedding))).scalar_one() is None


async def test_reembed_command_converts_every_memory(
    db: AsyncSession, services: ServiceURLs, settings: Settings
) -> None:
    user = await users.provision(db, "user_reembed")
    rng = random.Random(7)
    for i in range(5):
        db.add(
            Memory(
                user_id=user.id,
                tier=MemoryTier.personal,
                content=f"Fact {i} embedded by an older model",
                content_hash=uuid.uuid4().hex,
                source="test",
                meta={},
                embedding=[rng.uniform(-1, 1) for _ in range(384)],
                embedding_model="old-model",
            )
        )
    await db.commit()
    env = {
        **os.environ,
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "CLERK_SECRET_KEY": "sk_test_reembed",
        "CLERK_WEBHOOK_SECRET": "whsec_reembed",
        "ENVIRONMENT": "test",
    }
    command = [sys.executable, "-m", "app.cli", "memory", "reembed", "--batch-size", "2"]
    run = await asyncio.to_thread(
        subprocess.run,
        command,
        cwd=BACKEND_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "5 memories to embed" in run.stdout and "re-embedded 5 memories" in run.stdout
    models = set((await db.execute(select(Memory.embedding_model))).scalars())
    assert models == {LOCAL_MODEL_NAME}
    # Nothing left: a second run is a no-op (this is how an interrupted run resumes).
    rerun = await asyncio.to_thread(
        subprocess.run,
        command,
        cwd=BACKEND_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert rerun.returncode == 0 and "re-embedded 0 memories" in rerun.stdout
