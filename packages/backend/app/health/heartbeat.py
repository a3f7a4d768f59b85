"""The worker's heartbeat: proof in Redis that a worker is alive and running cron jobs."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from app.core.jobs import JobContext, Schedule, job

HEARTBEAT_KEY = "delight:worker:heartbeat"


async def write_heartbeat(redis: Redis, ttl_seconds: int, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).isoformat()
    await redis.set(HEARTBEAT_KEY, f"{stamp}|{socket.gethostname()}:{os.getpid()}", ex=ttl_seconds)
    return stamp


async def read_heartbeat(redis: Redis) -> dict[str, Any]:
    """Informational only: a missing worker degrades background work, not the API."""
    try:
        raw = await redis.get(HEARTBEAT_KEY)
    except Exception:  # noqa: BLE001 - the Redis check already reported the cause
        return {"status": "unknown"}
    if raw is None:
        return {"status": "not_seen"}
    stamp, _, worker = (raw.decode() if isinstance(raw, bytes) else str(raw)).partition("|")
    return {"status": "up", "last_seen": stamp, "worker": worker}


@job(schedule=Schedule(second=0, run_at_startup=True))
async def heartbeat(ctx: JobContext) -> str:
    """Every minute: record that this worker is alive (read back by /api/v1/health)."""
    return await write_heartbeat(ctx.redis, ctx.settings.worker_heartbeat_ttl_seconds)
