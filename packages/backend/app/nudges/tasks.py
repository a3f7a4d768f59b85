"""The nudges job: a sweep every 15 minutes (a thin shim over ``app/nudges/sweep.py``)."""

from __future__ import annotations

from typing import Any

from app.core.jobs import JobContext, Schedule, job
from app.core.logging import get_logger
from app.kit.clock import parse_now
from app.nudges.sweep import run_sweep

log = get_logger(__name__)


@job(schedule=Schedule(minute={2, 17, 32, 47}, second=30))
async def nudges_sweep(ctx: JobContext, now: str | None = None) -> dict[str, Any]:
    """Plan and deliver every note that is due (``now``: ISO 8601, for tests; cron passes nothing)."""
    report = await run_sweep(ctx.resources, parse_now(now))
    summary = report.summary()
    if report.rows_written or report.errors:
        log.info("nudges_sweep", **{key: value for key, value in summary.items() if key != "at"})
    return summary


JOBS = (nudges_sweep,)
