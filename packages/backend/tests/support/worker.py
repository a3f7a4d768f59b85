"""A real ARQ worker in burst mode: runs what is queued, then returns."""

from __future__ import annotations

import dataclasses
from typing import Any

from arq.cron import CronJob
from arq.worker import Worker

from app.core.config import Settings
from app.workers.main import create_worker, cron_jobs


async def run_burst_worker(settings: Settings, **overrides: Any) -> Worker:
    """Run the project's worker until its queue is empty; ``overrides`` go to ``create_worker``
    (e.g. ``cron_jobs=[]`` to leave scheduled jobs out)."""
    options: dict[str, Any] = {"burst": True, "handle_signals": False, "poll_delay": 0.01, **overrides}
    worker = create_worker(settings, **options)
    try:
        await worker.main()
    finally:
        await worker.close()
    return worker


def cron_jobs_due_now(settings: Settings, name: str) -> list[CronJob]:
    """The worker's cron jobs as declared for ``settings``, with the one called ``name`` due at start-up,
    as if its scheduled time had come: same job, function, uniqueness and timeout, enqueued by the
    worker's own cron loop."""
    jobs = cron_jobs(settings)
    assert name in {job.name for job in jobs}, f"no cron job {name}"
    return [dataclasses.replace(job, run_at_startup=True) if job.name == name else job for job in jobs]
