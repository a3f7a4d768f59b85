"""The ARQ worker (``delight worker``): collects every domain's jobs, owns its resources."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from arq.connections import RedisSettings
from arq.cron import CronJob
from arq.typing import WorkerCoroutine
from arq.worker import Worker

from app import companion, health, memory, nudges, planning
from app.core import metrics
from app.core.config import Settings
from app.core.jobs import Job
from app.core.logging import get_logger
from app.runtime import create_resources

log = get_logger("delight.worker")

# Every domain declares its jobs next to their code (``@job``); the worker only collects them.
JOBS: tuple[Job[..., Any], ...] = (
    *health.JOBS,
    *memory.JOBS,
    *companion.JOBS,
    *planning.JOBS,
    *nudges.JOBS,
)
# What ARQ registers: one coroutine per job, named after it (the name is what ARQ stores).
FUNCTIONS: list[WorkerCoroutine] = [job.arq_function() for job in JOBS]  # type: ignore[misc]


def cron_jobs(settings: Settings) -> list[CronJob]:
    """The scheduled jobs, with the schedules their domains declared."""
    return [cron for job in JOBS if (cron := job.arq_cron(settings)) is not None]


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
        ctx.update(settings=settings, resources=create_resources(settings))
        if settings.worker_metrics_port is not None:
            try:
                ctx["metrics_server"] = metrics.MetricsServer(settings.worker_metrics_port)
            except OSError as exc:  # e.g. a second worker on this host: run without
                log.warning(
                    "metrics_port_unavailable", port=settings.worker_metrics_port, error=type(exc).__name__
                )
        log.info("worker_started", functions=[job.name for job in JOBS])

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        resources = ctx.get("resources")
        if resources is not None:
            await resources.close()
        server = ctx.get("metrics_server")
        if server is not None:
            server.close()
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
