"""Batch maintenance across users: pruning old task memories, embedding what is missing, and
re-embedding after a model change. Each batch commits on its own, so any of these can stop and be
run again (they are idempotent and resume where they stopped)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.embedding import Embedder, EmbeddingError
from app.core.logging import get_logger
from app.memory import repository
from app.models import Memory

log = get_logger(__name__)


@dataclass(frozen=True)
class PruneReport:
    deleted: int
    batches: int
    cutoff: datetime


async def prune_task_memories(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime, retention_days: int, batch_size: int
) -> PruneReport:
    """Delete task memories created more than ``retention_days`` ago and not accessed since then.

    Personal and project memories are never touched. Deletes run in batches of ``batch_size``,
    each in its own transaction, so a long backlog never holds one huge lock.
    """
    cutoff = now - timedelta(days=retention_days)
    deleted = batches = 0
    while True:
        async with sessions() as session, session.begin():
            count = await repository.delete_stale_tasks(session, cutoff, batch_size)
        deleted += count
        batches += 1
        if count < batch_size:
            break
    log.info("memory_prune_done", deleted=deleted, batches=batches, cutoff=cutoff.isoformat())
    return PruneReport(deleted=deleted, batches=batches, cutoff=cutoff)


@dataclass(frozen=True)
class EmbedReport:
    embedded: int
    failed: bool  # the provider failed: the run stopped early (or could not embed some memories)
    isolated: int = 0  # memories that failed on their own, now backing off


# A memory that fails on its own waits this long before the next attempt, doubling each time.
FIRST_BACKOFF = timedelta(minutes=15)
MAX_BACKOFF = timedelta(days=1)


def backoff(failures: int) -> timedelta:
    """15 min, 30 min, 1 h, ... then daily (the exponent is capped before it could overflow)."""
    return min(FIRST_BACKOFF * (1 << min(max(0, failures - 1), 8)), MAX_BACKOFF)


async def embed_pending(
    sessions: async_sessionmaker[AsyncSession],
    embedder: Embedder,
    *,
    batch_size: int,
    max_batches: int = 1000,
    now: datetime | None = None,
) -> EmbedReport:
    """Embed memories stored while the provider was failing (``embedding IS NULL``).

    A batch the provider refuses is retried one memory at a time: those that fail alone are marked
    (``embedding_failures``) and skipped until ``embedding_retry_at`` (15 minutes, doubling up to a
    day), so one text the provider always rejects no longer stops the backfill for every user. When
    the first two memories tried alone both fail, the provider itself is down: the run stops (the
    next one retries).
    """
    moment = now or datetime.now(UTC)
    embedded = isolated = 0
    failed = outage = False
    for _ in range(max_batches):
        async with sessions() as session, session.begin():
            memories = await repository.claim_unembedded(session, batch_size, moment)
            if not memories:
                break
            try:
                vectors: list[list[float] | None] = list(await embedder.embed([m.content for m in memories]))
            except EmbeddingError as exc:
                log.warning("memory_embed_pending_failed", error=str(exc), waiting=len(memories))
                vectors, outage = await _one_by_one(embedder, memories)
                failed = True
            # After an outage only the memories tried are in ``vectors``: the others stay as they are.
            for memory, vector in zip(memories, vectors, strict=False):
                if vector is None:
                    memory.embedding_failures += 1
                    memory.embedding_retry_at = moment + backoff(memory.embedding_failures)
                    isolated += 1
                    log.warning(
                        "memory_embedding_isolated",
                        memory_id=str(memory.id),
                        failures=memory.embedding_failures,
                        retry_at=memory.embedding_retry_at.isoformat(),
                    )
                    continue
                memory.embedding = vector
                memory.embedding_model = embedder.model_name
                memory.embedding_failures, memory.embedding_retry_at = 0, None
                embedded += 1
        if outage or len(memories) < batch_size:
            break
    log.info("memory_embed_pending_done", embedded=embedded, isolated=isolated)
    return EmbedReport(embedded=embedded, failed=failed, isolated=isolated)


async def _one_by_one(embedder: Embedder, memories: list[Memory]) -> tuple[list[list[float] | None], bool]:
    """Each memory alone: its vector or ``None``; and whether the provider looks down (the first
    two tried both failed; the rest are then left untried, unmarked)."""
    vectors: list[list[float] | None] = []
    for index, memory in enumerate(memories):
        try:
            vectors.extend(await embedder.embed([memory.content]))
        except EmbeddingError:
            vectors.append(None)
            if index == 1 and vectors == [None, None]:
                return vectors, True
    return vectors, False


async def count_to_reembed(sessions: async_sessionmaker[AsyncSession], model_name: str, force: bool) -> int:
    async with sessions() as session:
        return await repository.count_for_reembed(session, model_name, force)


async def reembed(
    sessions: async_sessionmaker[AsyncSession],
    embedder: Embedder,
    *,
    batch_size: int,
    force: bool = False,
    after: uuid.UUID | None = None,
    progress: Callable[[int, uuid.UUID], None] | None = None,
) -> int:
    """Re-embed, in id order, every memory not embedded with ``embedder``'s model (every memory
    with ``force``). Batches commit as they go: an interrupted run resumes by running again
    (or, with ``force``, by passing the last id it reported as ``after``)."""
    done = 0
    while True:
        async with sessions() as session, session.begin():
            memories = await repository.claim_for_reembed(
                session, embedder.model_name, batch_size, after, force
            )
            if not memories:
                break
            vectors = await embedder.embed([m.content for m in memories])
            for memory, vector in zip(memories, vectors, strict=True):
                memory.embedding = vector
                memory.embedding_model = embedder.model_name
        done += len(memories)
        after = memories[-1].id
        if progress is not None:
            progress(len(memories), after)
    return done
