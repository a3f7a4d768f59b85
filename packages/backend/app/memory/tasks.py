"""ARQ jobs of the memory domain (registered in app/workers/main.py): thin shims over maintenance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.core.config import Settings
from app.memory import maintenance
from app.memory.embeddings import get_embedder


async def prune_task_memories(ctx: dict[str, Any], now: str | None = None) -> dict[str, Any]:
    """Daily cron: delete task memories past MEMORY_PRUNE_RETENTION_DAYS (by creation and last access).

    ``now`` (ISO 8601) replaces the clock, for tests and for replaying a missed day.
    """
    settings: Settings = ctx["settings"]
    moment = datetime.fromisoformat(now) if now else datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    report = await maintenance.prune_task_memories(
        ctx["sessions"],
        now=moment,
        retention_days=settings.memory_prune_retention_days,
        batch_size=settings.memory_prune_batch_size,
    )
    return {"deleted": report.deleted, "batches": report.batches, "cutoff": report.cutoff.isoformat()}


async def embed_pending_memories(ctx: dict[str, Any]) -> dict[str, Any]:
    """Embed memories stored without an embedding (provider failures). Enqueued when that happens
    and swept by cron, so nothing is missed if Redis was unavailable at the time."""
    settings: Settings = ctx["settings"]
    report = await maintenance.embed_pending(
        ctx["sessions"], get_embedder(ctx["resources"]), batch_size=settings.embedding_batch_size
    )
    return {"embedded": report.embedded, "failed": report.failed}
