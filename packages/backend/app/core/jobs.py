"""Jobs requested during a request are sent to ARQ only after the transaction commits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.logging import get_logger

log = get_logger(__name__)
_KEY = "delight.pending_jobs"


@dataclass(frozen=True)
class PendingJob:
    function: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def defer_job(session: AsyncSession, function: str, *args: Any, **kwargs: Any) -> None:
    """Queue ``function`` to run once ``session`` commits; dropped if it rolls back."""
    session.info.setdefault(_KEY, []).append(PendingJob(function, args, kwargs))


def discard_jobs(session: AsyncSession) -> None:
    session.info.pop(_KEY, None)


async def send_jobs(session: AsyncSession, pool: ArqRedis | None) -> None:
    """Enqueue what the committed transaction asked for. Failures are logged, never raised:
    the data is already committed and every job has a sweeper that finds missed work."""
    jobs: list[PendingJob] = session.info.pop(_KEY, [])
    if not jobs:
        return
    if pool is None:
        log.warning("jobs_not_enqueued_no_redis", count=len(jobs), functions=[j.function for j in jobs])
        return
    for job in jobs:
        try:
            await pool.enqueue_job(job.function, *job.args, **job.kwargs)
        except Exception as exc:  # noqa: BLE001 - see docstring
            log.warning("job_enqueue_failed", function=job.function, error=type(exc).__name__)
