"""A real ARQ worker (burst mode) against the test Redis, and what health reports about it."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker
from redis.asyncio import Redis

from app.core.config import Settings
from app.health.heartbeat import HEARTBEAT_KEY, heartbeat, read_heartbeat, write_heartbeat
from app.workers.main import FUNCTIONS, create_worker, cron_jobs
from tests.support.services import ServiceURLs

BACKEND_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[ArqRedis]:
    assert settings.redis_url
    arq_pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    yield arq_pool
    await arq_pool.aclose()


async def run_burst(worker: Worker) -> None:
    try:
        await worker.main()
    finally:
        await worker.close()


async def test_burst_worker_runs_an_enqueued_heartbeat(
    settings: Settings, pool: ArqRedis, redis: Redis
) -> None:
    job = await heartbeat.enqueue(pool, job_id="heartbeat-from-test")
    assert job is not None
    worker = create_worker(settings, burst=True, handle_signals=False, poll_delay=0.01)
    await run_burst(worker)

    result = await job.result_info()
    assert result is not None
    assert result.success
    assert datetime.fromisoformat(result.result) > datetime.now(UTC) - timedelta(minutes=1)
    assert worker.jobs_failed == 0
    # The enqueued job and the start-up run of the cron heartbeat (more only if a cron came due).
    assert worker.jobs_complete >= 2
    assert 0 < await redis.ttl(HEARTBEAT_KEY) <= settings.worker_heartbeat_ttl_seconds
    # The worker closed its own resources and left no job running.
    assert all(task.done() for task in worker.tasks.values())


async def test_health_reports_the_worker_after_it_ran(
    settings: Settings, client: httpx.AsyncClient, redis: Redis
) -> None:
    before = (await client.get("/api/v1/health")).json()
    assert before["worker"] == {"status": "not_seen"}

    await run_burst(create_worker(settings, burst=True, handle_signals=False, poll_delay=0.01))

    body = (await client.get("/api/v1/health")).json()
    assert body["status"] == "healthy"
    worker = body["worker"]
    assert worker["status"] == "up"
    assert datetime.fromisoformat(worker["last_seen"]) > datetime.now(UTC) - timedelta(minutes=1)
    # No host name or pid for anonymous callers (they are in Redis, for operators).
    assert set(worker) == {"status", "last_seen"}
    assert str(os.getpid()) not in json.dumps(body) and socket.gethostname() not in json.dumps(body)
    assert (await read_heartbeat(redis))["worker"] == f"{socket.gethostname()}:{os.getpid()}"


async def test_heartbeat_records_the_time_and_the_worker(redis: Redis) -> None:
    stamp = await write_heartbeat(redis, ttl_seconds=60, now=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert stamp == "2030-01-02T03:04:05+00:00"
    heartbeat = await read_heartbeat(redis)
    assert heartbeat["last_seen"] == stamp and heartbeat["worker"].endswith(f":{os.getpid()}")


async def test_the_heartbeat_expires_and_health_then_reports_the_worker_not_seen(
    settings_factory: Any, app_factory: Any, redis: Redis, run_worker: Any
) -> None:
    """The worker writes its heartbeat with WORKER_HEARTBEAT_TTL_SECONDS; Redis expires it by itself."""
    # Short, but long enough that a loaded machine still sees the heartbeat before it expires.
    settings = settings_factory(worker_heartbeat_ttl_seconds=3)
    app = await app_factory(settings)  # before the worker: building it must not eat into the TTL
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        await run_worker(settings)  # the start-up run of the heartbeat cron
        assert 0 < await redis.pttl(HEARTBEAT_KEY) <= 3000
        assert (await http.get("/api/v1/health")).json()["worker"]["status"] == "up"
        deadline = time.monotonic() + 10
        while await redis.exists(HEARTBEAT_KEY):  # nothing but the TTL removes it
            assert time.monotonic() < deadline, "the heartbeat never expired"
            await asyncio.sleep(0.05)
        assert (await http.get("/api/v1/health")).json()["worker"] == {"status": "not_seen"}


def test_the_heartbeat_runs_every_minute_and_at_start_up(settings: Settings) -> None:
    [job] = [job for job in cron_jobs(settings) if job.name == "cron:heartbeat"]
    assert job.name == "cron:heartbeat"
    assert job.run_at_startup
    assert job.second == 0
    assert job.minute is None  # every minute
    assert "heartbeat" in {getattr(f, "__name__", "") for f in FUNCTIONS}


def test_a_worker_needs_redis(settings_factory: object) -> None:
    settings = settings_factory(redis_url=None)  # type: ignore[operator]
    with pytest.raises(SystemExit, match="REDIS_URL is not set"):
        create_worker(settings)


async def test_delight_worker_command_runs_in_burst_mode(
    services: ServiceURLs, redis: Redis, tmp_path: Path
) -> None:
    """`delight worker --burst`, as deployed, with configuration from the environment only."""
    delight = Path(sys.executable).with_name("delight")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "CLERK_SECRET_KEY": "sk_test_worker",
        "CLERK_WEBHOOK_SECRET": "whsec_worker",
        "ENVIRONMENT": "test",
        "LOG_FORMAT": "json",
    }
    result = await asyncio.to_thread(
        subprocess.run,
        [str(delight), "worker", "--burst"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert '"event": "worker_started"' in result.stderr
    assert '"event": "worker_stopped"' in result.stderr
    assert "Traceback" not in result.stderr
    heartbeat = await read_heartbeat(redis)
    assert heartbeat["status"] == "up"
    assert not heartbeat["worker"].endswith(f":{os.getpid()}")  # written by the other process
