"""ARQ worker: settings, lifecycle and the job registry (``delight worker`` runs it)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.typing import WorkerCoroutine
from arq.worker import Worker

from app.companion.tasks import companion_form_memories, companion_sweep
from app.core.config import Settings
from app.core.logging import get_logger
from app.core.resources import create_resources
from app.memory.tasks import embed_pending_memories, prune_task_memories
from app.planning.tasks import nightly_sweep, nightly_user
from app.workers.heartbeat import write_heartbeat

log = get_logger("delight.worker")


async def heartbeat(ctx: dict[str, Any]) -> str:
    """Cron: record that this worker is alive (read back by /api/v1/health)."""
    settings: Settings = ctx["settings"]
    return await write_heartbeat(ctx["redis"], settings.worker_heartbeat_ttl_seconds)


# Later domains register their jobs here; names are the job identifiers ARQ stores.
FUNCTIONS: list[WorkerCoroutine] = [
    heartbeat,
    prune_task_memories,
    embed_pending_memories,
    companion_form_memories,
    companion_sweep,
    nightly_sweep,
    nightly_user,
]


def cron_jobs(settings: Settings) -> list[Any]:
    return [
        cron(heartbeat, second=0, run_at_startup=True),
        # Memory: daily pruning of old task memories; a sweep for memories stored unembedded.
        cron(
            prune_task_memories,
            hour=settings.memory_prune_hour,
            minute=settings.memory_prune_minute,
            second=0,
            unique=True,
        ),
        cron(embed_pending_memories, minute={7, 22, 37, 52}, second=0, unique=True),
        # Companion: settle replies whose generator died; queue missed memory formation.
        cron(companion_sweep, minute=set(range(2, 60, 5)), second=30, unique=True),
        # Goals: each user's nightly run (streaks, DCI snapshot, mission top-up) after their midnight.
        cron(nightly_sweep, minute={5, 20, 35, 50}, second=15, unique=True),
    ]


class DelightWorker(Worker):
    """arq's Worker, closing its Redis pool with ``aclose()``: arq 0.28 still calls redis-py's
    ``close()``, deprecated since redis 5.0.1, on every shutdown."""

    async def close(self) -> None:
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)
        if not self._pool:
            return
        await asyncio.gather(*self.tasks.values())
        await self.pool.delete(self.health_check_key)
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        await self.pool.aclose(close_connection_pool=True)
        self._pool = None


def create_worker(settings: Settings, **overrides: Any) -> Worker:
    """Build a worker bound to ``settings``; tests pass ``burst=True``."""
    if not settings.redis_url:
        raise SystemExit("REDIS_URL is not set: the worker needs Redis to receive jobs.")

    async def on_startup(ctx: dict[str, Any]) -> None:
        resources = create_resources(settings)
        ctx.update(settings=settings, resources=resources, sessions=resources.sessions)
        log.info("worker_started", functions=[getattr(f, "__name__", str(f)) for f in FUNCTIONS])

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        resources = ctx.get("resources")
        if resources is not None:
            await resources.close()
        log.info("worker_stopped")

    options: dict[str, Any] = {
        "functions": FUNCTIONS,
        "cron_jobs": cron_jobs(settings),
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "max_jobs": 10,
        "job_timeout": 600,
        "keep_result": 3600,
        "handle_signals": True,
    }
    options.update(overrides)
    return DelightWorker(**options)
