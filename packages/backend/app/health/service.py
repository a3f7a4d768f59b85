"""Real, time-bounded checks of PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.logging import get_logger

log = get_logger(__name__)
ComponentStatus = Literal["up", "down", "not_configured"]
OverallStatus = Literal["healthy", "degraded", "unhealthy"]


@dataclass(frozen=True)
class ComponentHealth:
    status: ComponentStatus
    latency_ms: float | None = None
    error: str | None = None


async def _timed(check: asyncio.Future[object] | object, timeout: float) -> ComponentHealth:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            await check  # type: ignore[misc]
    except TimeoutError:
        return ComponentHealth("down", _ms(started), f"timed out after {timeout:g}s")
    except Exception as exc:  # noqa: BLE001 - any failure means the component is down
        # The class name only: driver messages can carry hostnames or credentials.
        return ComponentHealth("down", _ms(started), type(exc).__name__)
    return ComponentHealth("up", _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


async def _select_one(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def check_database(engine: AsyncEngine, timeout: float) -> ComponentHealth:
    result = await _timed(_select_one(engine), timeout)
    if result.status == "down":
        log.warning("health_database_down", error=result.error)
    return result


async def check_redis(redis: Redis | None, timeout: float) -> ComponentHealth:
    if redis is None:
        return ComponentHealth("not_configured")
    result = await _timed(redis.ping(), timeout)
    if result.status == "down":
        log.warning("health_redis_down", error=result.error)
    return result


def overall(database: ComponentHealth, redis: ComponentHealth) -> OverallStatus:
    if database.status != "up":
        return "unhealthy"
    if redis.status != "up":
        return "degraded"
    return "healthy"
