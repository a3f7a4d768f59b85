"""Jobs requested by a request are sent after its commit; when Redis is unset, down or refuses the
job, the data stays committed, the failure is logged and the request still succeeds."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.jobs import send_jobs
from app.memory.tasks import embed_pending_memories, prune_task_memories
from app.models import Memory, User
from app.users import repository as users
from tests.memory.openai_server import OpenAIEmbeddingsServer

EMBED_JOB = "embed_pending_memories"


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def logged_once(caplog: pytest.LogCaptureFixture, event: str) -> dict[str, Any]:
    """The one log record of ``event`` (structlog hands the event dict to the stdlib record)."""
    found = [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == event]
    assert len(found) == 1, f"expected one {event!r} record, got {len(found)}:\n{caplog.text}"
    return found[0]


@pytest.fixture
def embeddings_down() -> Iterator[OpenAIEmbeddingsServer]:
    """The embedding provider answers 500, so storing a memory defers the embedding job."""
    with OpenAIEmbeddingsServer() as server:
        server.failing = True
        yield server


@pytest.fixture(params=["unset", "down", "refusing"])
async def redis_trouble(
    request: pytest.FixtureRequest,
    app_factory: Any,
    settings_factory: Any,
    embeddings_down: OpenAIEmbeddingsServer,
    redis: Redis,
) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """The app with REDIS_URL unset, pointing at a Redis that is down, or at a live Redis that refuses
    the enqueue (ARQ's queue key holds the wrong type). Built here, before the test body, so the
    app's logging is in place when caplog starts capturing."""
    redis_url = {
        "unset": None,
        "down": f"redis://127.0.0.1:{closed_port()}/0",
        "refusing": settings_factory().redis_url,
    }[request.param]
    if request.param == "refusing":
        await redis.set("arq:queue", "not a sorted set")
    app = await app_factory(
        settings_factory(
            redis_url=redis_url,
            embedding_provider="openai",
            openai_api_key=embeddings_down.api_key,
            openai_base_url=embeddings_down.url,
            embedding_timeout_seconds=5,
        )
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield request.param, client


async def test_a_job_that_cannot_be_sent_leaves_the_committed_request_intact(
    redis_trouble: tuple[str, httpx.AsyncClient],
    auth_headers: Any,
    db: AsyncSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    trouble, client = redis_trouble
    response = await client.post(
        "/api/v1/memories",
        json={"tier": "personal", "content": "My dog is called Biscuit."},
        headers=auth_headers("user_jobs"),
    )
    assert response.status_code == 201, response.text
    memory = (await db.scalars(select(Memory).where(Memory.id == uuid.UUID(response.json()["id"])))).one()
    assert memory.content == "My dog is called Biscuit."
    assert memory.embedding is None  # left for the embedding sweeper, which finds it without the job
    if trouble == "unset":
        warning = logged_once(caplog, "jobs_not_enqueued_no_redis")
        assert warning["functions"] == [EMBED_JOB] and warning["count"] == 1
    else:
        warning = logged_once(caplog, "job_enqueue_failed")
        expected = {"down": "ConnectionError", "refusing": "ResponseError"}[trouble]
        assert warning["function"] == EMBED_JOB and warning["error"] == expected
    assert "Biscuit" not in caplog.text  # the memory's text never reaches the log


async def test_one_job_that_cannot_be_enqueued_does_not_stop_the_others(
    app: Any, db: AsyncSession, pool: ArqRedis, caplog: pytest.LogCaptureFixture
) -> None:
    """``app``: logging configured as the service does it."""
    user = await users.provision(db, "user_jobs")
    embed_pending_memories.defer(db, lambda: None)  # arguments that cannot be serialised
    prune_task_memories.defer(db)
    await db.commit()
    await send_jobs(db, pool)  # raises nothing

    assert [job.function for job in await pool.queued_jobs()] == ["prune_task_memories"]
    warning = logged_once(caplog, "job_enqueue_failed")
    assert warning["function"] == EMBED_JOB
    assert await db.get(User, user.id) is not None
    await send_jobs(db, pool)  # the pending list was consumed: nothing is sent twice
    assert len(await pool.queued_jobs()) == 1
