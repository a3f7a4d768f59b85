"""Health: full check for dashboards and readiness, plus a cheap liveness probe."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app import __version__
from app.core.deps import ResourcesDep
from app.health.heartbeat import read_heartbeat
from app.health.service import ComponentHealth, check_database, check_redis, overall
from app.memory import detect_pgvector

router = APIRouter(prefix="/health", tags=["health"])


def _component(health: ComponentHealth) -> dict[str, Any]:
    body: dict[str, Any] = {"status": health.status, "latency_ms": health.latency_ms}
    if health.error:
        body["error"] = health.error
    return body


@router.get("", summary="Full health: PostgreSQL and Redis, each checked with a timeout")
async def health(resources: ResourcesDep) -> JSONResponse:
    timeout = resources.settings.health_timeout_seconds
    database, redis = await asyncio.gather(
        check_database(resources.engine, timeout), check_redis(resources.redis, timeout)
    )
    status = overall(database, redis)
    body: dict[str, Any] = {
        "status": status,
        "database": _component(database),
        "redis": _component(redis),
        "timestamp": datetime.now(UTC).isoformat(),
        "version": __version__,
        "environment": resources.settings.environment.value,
    }
    if redis.status == "up" and resources.redis is not None:
        heartbeat = await read_heartbeat(resources.redis)
        # Anyone may call this: the worker's host name and pid (kept in Redis) stay out of it.
        body["worker"] = {key: value for key, value in heartbeat.items() if key != "worker"}
    if database.status == "up":
        found = await detect_pgvector(resources.engine, timeout)  # remembered after the first time
        if found is not None:
            body["pgvector"] = found.describe()
    return JSONResponse(body, status_code=503 if status == "unhealthy" else 200)


@router.get("/live", summary="Liveness: the process answers (no I/O)")
async def live() -> dict[str, str]:
    return {"status": "alive", "timestamp": datetime.now(UTC).isoformat()}


@router.get("/ready", summary="Readiness: the database answers (Redis is optional)")
async def ready(resources: ResourcesDep) -> JSONResponse:
    database = await check_database(resources.engine, resources.settings.health_timeout_seconds)
    ok = database.status == "up"
    return JSONResponse(
        {"status": "ready" if ok else "not_ready", "database": _component(database)},
        status_code=200 if ok else 503,
    )
