"""A real ARQ worker in burst mode: runs what is queued, then returns."""

from __future__ import annotations

from typing import Any

from arq.worker import Worker

from app.core.config import Settings
from app.workers.main import create_worker


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
