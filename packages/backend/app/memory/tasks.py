"""Jobs of the memory domain: thin shims over ``maintenance``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.core.config import Settings
from app.core.jobs import JobContext, Schedule, job
from app.memory import maintenance


def _daily_prune(settings: Settings) -> Schedule:
    return Schedule(hour=settings.memory_prune_hour, minute=settings.memory_prune_minute)


@job(schedule=_daily_prune)
async def prune_task_memories(ctx: JobContext, now: str | None = None) -> dict[str, Any]:
    """Daily: delete task memories past MEMORY_PRUNE_RETENTION_DAYS (by creation and last access).

    ``now`` (ISO 8601) replaces the clock, for tests and for replaying a missed day.
    """
    settings = ctx.settings
    moment = datetime.fromisoformat(now) if now else datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    report = await maintenance.prune_task_memories(
        ctx.sessions,
        now=moment,
        retention_days=settings.memory_prune_retention_days,
        batch_size=settings.memory_prune_batch_size,
    )
    return {"deleted": report.deleted, "batches": report.batches, "cutoff": report.cutoff.isoformat()}


# A sweep for memories stored unembedded, four times an hour.
@job(schedule=Schedule(minute={7, 22, 37, 52}))
async def embed_pending_memories(ctx: JobContext) -> dict[str, Any]:
    """Embed memories stored without an embedding (provider failures). Deferred when that happens
    and swept by cron, so nothing is missed if Redis was unavailable at the time. A memory the
    provider rejects on its own is isolated and retried later, backing off (``maintenance``)."""
    report = await maintenance.embed_pending(
        ctx.sessions, ctx.resources.embedder, batch_size=ctx.settings.embedding_batch_size
    )
    return {"embedded": report.embedded, "failed": report.failed, "isolated": report.isolated}


JOBS = (prune_task_memories, embed_pending_memories)
