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
from app.memory import repository, sentences

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

    No database connection is held while the provider works (read, embed, then write). A batch
    the provider refuses is retried one memory at a time: those that fail alone are marked
    (``embedding_failures``) and skipped until ``embedding_retry_at`` (15 minutes, doubling up to a
    day), so one text the provider always rejects no longer stops the backfill for every user. When
    the first two memories tried alone both fail, the provider itself is down: the run stops (the
    next one retries).
    """
    moment = now or datetime.now(UTC)
    embedded = isolated = 0
    failed = False
    for _ in range(max_batches):
        async with sessions() as session:
            batch = await repository.unembedded(session, batch_size, moment)
        if not batch:
            break
        outage = False
        try:
            results: list[tuple[list[float], str] | None] = list(
                await sentences.embed_with_sentences(embedder, [row.content for row in batch])
            )
        except EmbeddingError as exc:
            log.warning("memory_embed_pending_failed", error=str(exc), waiting=len(batch))
            results, outage = await _one_by_one(embedder, batch)
            failed = True
        # After an outage only the memories tried have a result: the others stay as they are.
        tried = list(zip(batch, results, strict=False))
        done = [(row, *pair) for row, pair in tried if pair is not None]
        rejected = [row for row, pair in tried if pair is None]
        async with sessions() as session, session.begin():
            embedded += await repository.store_embeddings(session, embedder.model_name, done)
            await repository.mark_embedding_failures(
                session, [(row, moment + backoff(row.embedding_failures + 1)) for row in rejected]
            )
        for row in rejected:
            log.warning(
                "memory_embedding_isolated", memory_id=str(row.id), failures=row.embedding_failures + 1
            )
        isolated += len(rejected)
        if outage or len(batch) < batch_size:
            break
    log.info("memory_embed_pending_done", embedded=embedded, isolated=isolated)
    return EmbedReport(embedded=embedded, failed=failed, isolated=isolated)


async def _one_by_one(
    embedder: Embedder, batch: list[repository.ToEmbed]
) -> tuple[list[tuple[list[float], str] | None], bool]:
    """Each memory alone: its embeddings or ``None``; and whether the provider looks down (the first
    two tried both failed; the rest are then left untried, unmarked)."""
    results: list[tuple[list[float], str] | None] = []
    for index, row in enumerate(batch):
        try:
            results.extend(await sentences.embed_with_sentences(embedder, [row.content]))
        except EmbeddingError:
            results.append(None)
            if index == 1 and results == [None, None]:
                return results, True
    return results, False


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
    """Re-embed, in id order, every memory not embedded with ``embedder``'s model and its sentences
    (every memory with ``force``). Each batch is read, embedded with no database connection held,
    then written in its own short transaction (rows edited meanwhile keep their new embedding), so
    search and writes go on undisturbed. An interrupted run resumes by running again (or, with
    ``force``, by passing the last id it reported as ``after``)."""
    done = 0
    while True:
        async with sessions() as session:
            batch = await repository.next_to_reembed(session, embedder.model_name, batch_size, after, force)
        if not batch:
            break
        vectors = await sentences.embed_with_sentences(embedder, [row.content for row in batch])
        async with sessions() as session, session.begin():
            await repository.store_embeddings(
                session, embedder.model_name, [(row, *pair) for row, pair in zip(batch, vectors, strict=True)]
            )
        done += len(batch)
        after = batch[-1].id
        if progress is not None:
            progress(len(batch), after)
    return done
