"""Background jobs: declared next to their code with ``@job``, queued after commit, run by ARQ.

A domain declares a job where its code lives::

    @job(schedule=Schedule(minute={7, 22, 37, 52}))
    async def embed_pending_memories(ctx: JobContext) -> dict[str, Any]: ...

and exports its jobs from its package (``JOBS``); ``app/workers/main.py`` only collects them.
Callers queue a job through its handle, never by a name string: ``embed_pending_memories.defer(
session)`` sends it once ``session`` commits (and drops it on rollback), ``await job.enqueue(redis,
...)`` sends it now. ARQ may run a job twice: every job is idempotent.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from arq import Retry, cron
from arq.connections import ArqRedis
from arq.cron import CronJob
from arq.jobs import Job as ArqJob
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import metrics
from app.core.config import Settings
from app.core.logging import get_logger
from app.core.resources import Resources

log = get_logger(__name__)
_PENDING = "delight.pending_jobs"

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class JobContext:
    """What a job runs with: the worker's settings and resources, and ARQ's Redis pool."""

    settings: Settings
    resources: Resources
    redis: ArqRedis
    job_id: str | None = None
    job_try: int = 1

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.resources.sessions

    @classmethod
    def from_arq(cls, ctx: dict[str, Any]) -> JobContext:
        return cls(ctx["settings"], ctx["resources"], ctx["redis"], ctx.get("job_id"), ctx.get("job_try", 1))


@dataclass(frozen=True)
class Schedule:
    """When a job runs on its own (ARQ cron fields; ``None`` means every value)."""

    hour: int | set[int] | None = None
    minute: int | set[int] | None = None
    second: int | set[int] = 0
    run_at_startup: bool = False
    unique: bool = True  # never two runs of it at once, across workers


@dataclass(frozen=True)
class PendingJob:
    function: str  # the job's name
    args: tuple[Any, ...]
    job_id: str | None


class Job(Generic[P, R]):
    """A job function with its name and schedule; call it directly to run it in-process."""

    def __init__(
        self,
        function: Callable[Concatenate[JobContext, P], Awaitable[R]],
        schedule: Schedule | Callable[[Settings], Schedule] | None,
    ) -> None:
        self.function = function
        self.name = function.__name__
        self._schedule = schedule
        functools.update_wrapper(self, function)

    async def __call__(self, ctx: JobContext, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self.function(ctx, *args, **kwargs)

    def defer(self, session: AsyncSession, *args: Any, job_id: str | None = None) -> None:
        """Queue the job to be sent when ``session`` commits (dropped if it rolls back)."""
        session.info.setdefault(_PENDING, []).append(PendingJob(self.name, args, job_id))

    async def enqueue(self, redis: ArqRedis, *args: Any, job_id: str | None = None) -> ArqJob | None:
        """Send the job now; ``None`` when ARQ already holds one with ``job_id``."""
        return await redis.enqueue_job(self.name, *args, _job_id=job_id)

    def schedule(self, settings: Settings) -> Schedule | None:
        return self._schedule(settings) if callable(self._schedule) else self._schedule

    def arq_function(self) -> Callable[..., Awaitable[R]]:
        """The coroutine ARQ registers under ``self.name`` (ARQ passes its context as a dict)."""

        name = self.name
        duration = metrics.JOB_DURATION.labels(name)

        async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> R:
            started = time.perf_counter()
            outcome = "failure"
            try:
                result = await self.function(JobContext.from_arq(ctx), *args, **kwargs)
                outcome = "success"
                return result
            except Retry:
                outcome = "retry"
                raise
            except asyncio.CancelledError:
                outcome = "cancelled"  # job timeout or worker shutdown: ARQ retries it
                raise
            finally:
                metrics.JOB_RUNS.labels(name, outcome).inc()
                duration.observe(time.perf_counter() - started)

        run.__name__ = run.__qualname__ = self.name
        return run

    def arq_cron(self, settings: Settings) -> CronJob | None:
        when = self.schedule(settings)
        if when is None:
            return None
        return cron(
            self.arq_function(),  # type: ignore[arg-type]
            hour=when.hour,
            minute=when.minute,
            second=when.second,
            run_at_startup=when.run_at_startup,
            unique=when.unique,
        )


def job(
    *, schedule: Schedule | Callable[[Settings], Schedule] | None = None
) -> Callable[[Callable[Concatenate[JobContext, P], Awaitable[R]]], Job[P, R]]:
    """Declare a job (named after its function), optionally with the schedule it runs on."""

    def declare(function: Callable[Concatenate[JobContext, P], Awaitable[R]]) -> Job[P, R]:
        return Job(function, schedule)

    return declare


def discard_jobs(session: AsyncSession) -> None:
    session.info.pop(_PENDING, None)


async def send_jobs(session: AsyncSession, redis: ArqRedis | None) -> None:
    """Enqueue what the committed transaction asked for. Failures are logged, never raised:
    the data is already committed and every job has a sweeper that finds missed work."""
    pending: list[PendingJob] = session.info.pop(_PENDING, [])
    if not pending:
        return
    if redis is None:
        log.warning("jobs_not_enqueued_no_redis", count=len(pending), functions=[p.function for p in pending])
        return
    for item in pending:
        try:
            await redis.enqueue_job(item.function, *item.args, _job_id=item.job_id)
        except Exception as exc:  # noqa: BLE001 - see docstring
            log.warning("job_enqueue_failed", function=item.function, error=type(exc).__name__)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession], redis: ArqRedis | None
) -> AsyncIterator[AsyncSession]:
    """A session whose work commits when the block ends (rolled back if it raises), after which
    the jobs it deferred are sent. Requests (``SessionDep``) and jobs use it alike."""
    async with sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            discard_jobs(session)
            await session.rollback()
            raise
    await send_jobs(session, redis)
