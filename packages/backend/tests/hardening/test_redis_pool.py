"""The Redis connection pool is bounded (REDIS_MAX_CONNECTIONS per process): past it, a command waits
briefly for a free connection, then fails like an unreachable Redis (503), instead of opening more."""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from app.core.errors import dependency_of
from app.core.resources import create_redis


async def test_the_pool_never_opens_more_than_its_bound(settings_factory: Any, redis: Redis) -> None:
    client = create_redis(settings_factory(redis_max_connections=4, health_timeout_seconds=1))
    assert client is not None
    before = int((await redis.info("clients"))["connected_clients"])
    try:
        # Five commands that each hold a connection for 1.5 s: four run, the fifth waits for
        # one for HEALTH_TIMEOUT_SECONDS and gives up.
        results = await asyncio.gather(
            *(client.blpop([f"pool:empty:{n}"], timeout=1.5) for n in range(5)), return_exceptions=True
        )
        during = int((await redis.info("clients"))["connected_clients"])
    finally:
        await client.aclose()
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 1 and isinstance(failures[0], RedisConnectionError)
    assert dependency_of(failures[0]) == "redis"  # answered as 503 dependency_unavailable
    assert results.count(None) == 4
    assert during - before <= 4
