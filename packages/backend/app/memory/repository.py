"""Queries for memories: the only place that builds SQL for the memory domain.

Every query takes the owner's ``user_id`` and filters by it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Float,
    Select,
    and_,
    any_,
    bindparam,
    delete,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    true,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from app.models import Memory, MemoryTier
from app.models.memory import PARTITION_SCHEMA

# Rows read in bulk leave out the embedding and the tsvector: parsing 384 floats per row would
# cost more than the search itself. ``Memory.embedding_model`` says whether a row is embedded.
SLIM = (defer(Memory.embedding), defer(Memory.content_tsv))
# A lexical search ranks at most this many matching rows: rare words (what the lexical component is
# for) match few rows, and matches on common words are the vector search's job anyway.
LEXICAL_SCAN_CAP = 200


@dataclass(frozen=True)
class Candidate:
    """A memory found for a query, with its raw signals (``None``: not computed for this row)."""

    memory: Memory
    similarity: float | None
    lexemes: list[str]


@dataclass(frozen=True)
class FirstPass:
    """What one round trip learns before the re-ranking (``first_pass``)."""

    rows: int  # the user's memories, counted no further than the exact-search cap + 1
    exact: bool  # the candidates below come from the exact search (else: run the HNSW search)
    lexemes: list[str]  # the query's search terms
    candidates: list[Candidate]  # exact path only: the nearest memories (per tier if asked)


@dataclass(frozen=True)
class SecondPass:
    """Lexical candidates and (if asked) the most recently used memories of one tier."""

    lexical: list[Candidate]
    recent: list[Memory]


async def get(session: AsyncSession, user_id: uuid.UUID, memory_id: uuid.UUID) -> Memory | None:
    result = await session.execute(select(Memory).where(Memory.id == memory_id, Memory.user_id == user_id))
    return result.scalar_one_or_none()


async def get_by_hash(
    session: AsyncSession, user_id: uuid.UUID, tier: MemoryTier, content_hash: str
) -> Memory | None:
    result = await session.execute(
        select(Memory).where(
            Memory.user_id == user_id, Memory.tier == tier, Memory.content_hash == content_hash
        )
    )
    return result.scalar_one_or_none()


async def insert_memory(session: AsyncSession, values: dict[str, Any]) -> tuple[uuid.UUID, bool]:
    """Insert, or (same user, tier and content hash) do nothing; returns (id, inserted)."""
    statement = (
        insert(Memory)
        .values(**values)
        .on_conflict_do_nothing(constraint="uq_memories_user_id_tier_content_hash")
        .returning(Memory.id)
    )
    inserted = (await session.execute(statement)).scalar_one_or_none()
    if inserted is not None:
        return inserted, True
    existing = await get_by_hash(session, values["user_id"], values["tier"], values["content_hash"])
    assert existing is not None  # the conflicting row is committed (ON CONFLICT waited for it)
    return existing.id, False


async def refresh(
    session: AsyncSession, memory: Memory, now: datetime, metadata: dict[str, Any] | None
) -> None:
    """A duplicate was stored again: it counts as an access, and new metadata keys merge in."""
    memory.accessed_at = now
    memory.updated_at = now
    memory.access_count = memory.access_count + 1
    if metadata:
        memory.meta = {**memory.meta, **metadata}
    await session.flush()


def _scope(
    user_id: uuid.UUID, tiers: Sequence[MemoryTier] | None, include_archived: bool = False
) -> list[Any]:
    clauses: list[Any] = [Memory.user_id == user_id]
    if tiers:
        clauses.append(Memory.tier.in_(list(tiers)))
    if not include_archived:
        clauses.append(Memory.archived_at.is_(None))
    return clauses


async def count_up_to(session: AsyncSession, user_id: uuid.UUID, cap: int) -> int:
    """How many of the user's memories exist, counting no further than ``cap`` (cheap for any user)."""
    limited = select(literal_column("1")).where(Memory.user_id == user_id).limit(cap).subquery()
    return int((await session.execute(select(func.count()).select_from(limited))).scalar_one())


async def vector_candidates(
    session: AsyncSession,
    user_id: uuid.UUID,
    vector: list[float],
    *,
    tiers: Sequence[MemoryTier] | None,
    limit: int,
    exact: bool,
    ef_search: int,
    enough: int | None = None,
    set_ef: bool = True,
) -> list[Candidate]:
    """The user's ``limit`` nearest memories by cosine similarity.

    ``exact``: a sequential distance computation over the user's rows only (ordering by an
    expression the HNSW index cannot serve). Otherwise the HNSW index with ``ef_search``: pgvector
    (before 0.8) filters by user after the index scan, which returns at most ``ef_search`` rows, so
    an answer shorter than ``enough`` (default ``limit``) falls back to the exact search.
    """
    distance = Memory.embedding.op("<=>", return_type=Float)(vector)
    clauses = [*_scope(user_id, tiers), Memory.embedding.is_not(None)]
    lexemes = func.tsvector_to_array(Memory.content_tsv)
    if exact:
        similarity = (1 - distance).label("similarity")
        statement: Select[Any] = (
            select(Memory, similarity, lexemes)
            .options(*SLIM)
            .where(*clauses)
            .order_by(similarity.desc())
            .limit(limit)
        )
    else:
        if set_ef:  # else the caller set it in this transaction (``first_pass``)
            await session.execute(
                text("SELECT set_config('hnsw.ef_search', :ef, true)"), {"ef": str(ef_search)}
            )
        statement = (
            select(Memory, (1 - distance).label("similarity"), lexemes)
            .options(*SLIM)
            .where(*clauses)
            .order_by(distance)
            .limit(limit)
        )
    rows = (await session.execute(statement)).all()
    if not exact and len(rows) < (limit if enough is None else min(enough, limit)):
        return await vector_candidates(
            session,
            user_id,
            vector,
            tiers=tiers,
            limit=limit,
            exact=True,
            ef_search=ef_search,
        )
    return [Candidate(row[0], float(row[1]), list(row[2] or [])) for row in rows]


def _english_lexemes(query: str) -> Any:
    return func.tsvector_to_array(func.to_tsvector(literal_column("'english'::regconfig"), query))


async def first_pass(
    session: AsyncSession,
    user_id: uuid.UUID,
    query: str,
    vector: list[float] | None,
    *,
    tiers: Sequence[MemoryTier] | None,
    limit: int,
    per_tier: bool,
    exact_max_rows: int,
    ef_search: int,
) -> FirstPass:
    """One statement: the user's row count (capped), the query's search terms, the transaction's
    ``hnsw.ef_search`` and, for users with at most ``exact_max_rows`` memories, the exact nearest
    ``limit`` memories (``per_tier``: ``limit`` per tier, ranked by a window function).

    The exact scan sits behind a one-time filter on the count (an InitPlan), so for larger users
    PostgreSQL never runs it; the caller then searches the HNSW index (``vector_candidates`` with
    ``set_ef=False``: this statement already set ``ef_search``).
    """
    capped = select(literal_column("1")).where(Memory.user_id == user_id).limit(exact_max_rows + 1).subquery()
    counted = select(func.count().label("n")).select_from(capped).cte("counted")  # counted once
    rows = select(counted.c.n).scalar_subquery()
    head = select(
        rows.label("n"),
        _english_lexemes(query).label("q"),
        func.set_config("hnsw.ef_search", str(ef_search), true()).label("ef"),
    ).subquery("head")
    if vector is None:
        n, lexemes, _ = (await session.execute(select(head.c.n, head.c.q, head.c.ef))).one()
        return FirstPass(int(n), int(n) <= exact_max_rows, list(lexemes or []), [])
    similarity = 1 - Memory.embedding.op("<=>", return_type=Float)(vector)
    scope = [*_scope(user_id, tiers), Memory.embedding.is_not(None), rows <= exact_max_rows]
    if per_tier:  # the nearest ``limit`` of each tier
        rank = func.row_number().over(partition_by=Memory.tier, order_by=(similarity.desc(), Memory.id))
        ranked = (
            select(Memory.id.label("id"), similarity.label("similarity"), rank.label("rn"))
            .where(*scope)
            .subquery("ranked")
        )
        nearest = (
            select(ranked.c.id, ranked.c.similarity, ranked.c.rn)
            .where(ranked.c.rn <= limit)
            .subquery("nearest")
        )
    else:  # a top-N sort
        nearest = (
            select(Memory.id.label("id"), similarity.label("similarity"), literal(0).label("rn"))
            .where(*scope)
            .order_by(similarity.desc(), Memory.id)
            .limit(limit)
            .subquery("nearest")
        )
    statement = (
        select(
            head.c.n,
            head.c.q,
            head.c.ef,
            Memory,
            nearest.c.similarity,
            func.tsvector_to_array(Memory.content_tsv),
        )
        .options(*SLIM)
        .select_from(head)
        .outerjoin(nearest, true())
        .outerjoin(Memory, and_(Memory.id == nearest.c.id, Memory.user_id == user_id))
        .order_by(nearest.c.rn, Memory.tier)
    )
    result = (await session.execute(statement)).all()
    n = int(result[0][0])
    candidates = [
        Candidate(row[3], float(row[4]), list(row[5] or [])) for row in result if row[3] is not None
    ]
    return FirstPass(n, n <= exact_max_rows, list(result[0][1] or []), candidates)


async def hnsw_candidates_per_tier(
    session: AsyncSession,
    user_id: uuid.UUID,
    vector: list[float],
    *,
    tiers: Sequence[MemoryTier],
    limit: int,
    ef_search: int,
) -> list[Candidate]:
    """The ``limit`` nearest memories of each tier from ONE scan of the HNSW index.

    pgvector (before 0.8) returns at most ``ef_search`` rows from an index scan and filters them
    afterwards, so a scan per tier sees exactly the rows of that tier among the rows this single
    scan (``LIMIT ef_search``, all the tiers) sees: the answer is the same, for one graph search
    instead of one per tier. ``hnsw.ef_search`` must be set already (``first_pass`` does).
    """
    distance = Memory.embedding.op("<=>", return_type=Float)(vector)
    scanned = (
        select(Memory.id.label("id"), Memory.tier.label("tier"), (1 - distance).label("similarity"))
        .where(*_scope(user_id, tiers), Memory.embedding.is_not(None))
        .order_by(distance)
        .limit(ef_search)
        .subquery("scanned")
    )
    rank = func.row_number().over(
        partition_by=scanned.c.tier, order_by=(scanned.c.similarity.desc(), scanned.c.id)
    )
    ranked = select(scanned.c.id, scanned.c.similarity, rank.label("rn")).subquery("ranked")
    statement = (
        select(Memory, ranked.c.similarity, func.tsvector_to_array(Memory.content_tsv))
        .options(*SLIM)
        .join(ranked, Memory.id == ranked.c.id)
        .where(Memory.user_id == user_id, ranked.c.rn <= limit)
        .order_by(Memory.tier, ranked.c.rn)
    )
    rows = (await session.execute(statement)).all()
    return [Candidate(row[0], float(row[1]), list(row[2] or [])) for row in rows]


async def second_pass(
    session: AsyncSession,
    user_id: uuid.UUID,
    lexemes: Sequence[str],
    vector: list[float] | None,
    *,
    tiers: Sequence[MemoryTier] | None,
    limit: int,
    per_tier: bool,
    recent_tier: MemoryTier | None = None,
    recent_limit: int = 0,
) -> SecondPass:
    """One statement: the memories sharing terms with the query (GIN index; best ``ts_rank``
    first, ``limit`` in all or, ``per_tier``, per tier) and the ``recent_limit`` most recently used
    memories of ``recent_tier``."""
    parts: list[Any] = []
    if lexemes:
        tsquery = func.to_tsquery(literal_column("'simple'::regconfig"), _or_query(lexemes))
        groups = len(tiers) if per_tier and tiers else 1
        matches = (
            select(Memory.id.label("id"), Memory.tier.label("tier"), Memory.content_tsv.label("tsv"))
            .where(*_scope(user_id, tiers), Memory.content_tsv.op("@@")(tsquery))
            .limit(LEXICAL_SCAN_CAP * groups)
            .subquery("matches")
        )
        rank = func.row_number().over(
            partition_by=matches.c.tier if per_tier else None,
            order_by=(func.ts_rank(matches.c.tsv, tsquery).desc(), matches.c.id),
        )
        ranked = select(matches.c.id, literal(0).label("kind"), rank.label("rn")).subquery("lexical")
        parts.append(select(ranked.c.id, ranked.c.kind, ranked.c.rn).where(ranked.c.rn <= limit))
    if recent_tier is not None and recent_limit > 0:
        order = (Memory.accessed_at.desc(), Memory.id)
        parts.append(
            select(
                Memory.id.label("id"),
                literal(1).label("kind"),
                func.row_number().over(order_by=order).label("rn"),
            )
            .where(*_scope(user_id, [recent_tier]))
            .order_by(*order)
            .limit(recent_limit)
        )
    if not parts:
        return SecondPass([], [])
    both: Any = union_all(*parts) if len(parts) > 1 else parts[0]
    found = both.subquery("found")
    similarity: Any = (
        (1 - Memory.embedding.op("<=>", return_type=Float)(vector)) if vector is not None else null()
    )
    statement = (
        select(
            Memory, found.c.kind, similarity.label("similarity"), func.tsvector_to_array(Memory.content_tsv)
        )
        .options(*SLIM)
        .join(found, Memory.id == found.c.id)
        .where(Memory.user_id == user_id)
        .order_by(found.c.kind, Memory.tier, found.c.rn)
    )
    lexical: list[Candidate] = []
    recent_rows: list[Memory] = []
    for memory, kind, sim, terms in (await session.execute(statement)).all():
        if kind == 0:
            lexical.append(Candidate(memory, None if sim is None else float(sim), list(terms or [])))
        else:
            recent_rows.append(memory)
    return SecondPass(lexical, recent_rows)


async def query_lexemes(session: AsyncSession, query: str) -> list[str]:
    """The query's normalised search terms (English stemming, stop words dropped)."""
    result = await session.execute(
        select(func.tsvector_to_array(func.to_tsvector(literal_column("'english'::regconfig"), query)))
    )
    return list(result.scalar_one() or [])


async def common_lexemes(session: AsyncSession, min_frequency: float) -> frozenset[str]:
    """Search terms found in at least ``min_frequency`` of the memories of some partition, from the
    planner's statistics (``ANALYZE``): their posting lists are too long to search cheaply."""
    rows = (
        await session.execute(
            text(
                "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
                "WHERE schemaname = :schema AND attname = 'content_tsv' AND most_common_elems IS NOT NULL"
            ),
            {"schema": PARTITION_SCHEMA},
        )
    ).all()
    return frozenset(
        lexeme
        for lexemes, freqs in rows
        for lexeme, freq in zip(lexemes, freqs, strict=False)
        if freq >= min_frequency
    )


def _or_query(lexemes: Sequence[str]) -> str:
    """``'a' | 'b'``: any term matches. Lexemes are already normalised, so each is quoted as-is."""
    return " | ".join("'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'" for lexeme in lexemes)


async def lexical_candidates(
    session: AsyncSession,
    user_id: uuid.UUID,
    lexemes: Sequence[str],
    vector: list[float] | None,
    *,
    tiers: Sequence[MemoryTier] | None,
    limit: int,
) -> list[Candidate]:
    """The user's memories sharing terms with the query (GIN index), best ``ts_rank`` first."""
    if not lexemes:
        return []
    tsquery = func.to_tsquery(literal_column("'simple'::regconfig"), _or_query(lexemes))
    similarity: Any = (
        (1 - Memory.embedding.op("<=>", return_type=Float)(vector)).label("similarity")
        if vector is not None
        else literal_column("NULL").label("similarity")
    )
    matches = (
        select(Memory.id.label("id"), Memory.content_tsv.label("tsv"))
        .where(*_scope(user_id, tiers), Memory.content_tsv.op("@@")(tsquery))
        .limit(LEXICAL_SCAN_CAP)
        .subquery()
    )
    statement = (
        select(Memory, similarity, func.tsvector_to_array(matches.c.tsv))
        .options(*SLIM)
        .join(matches, Memory.id == matches.c.id)
        .order_by(func.ts_rank(matches.c.tsv, tsquery).desc(), Memory.id)
        .limit(limit)
    )
    rows = (await session.execute(statement)).all()
    return [Candidate(row[0], None if row[1] is None else float(row[1]), list(row[2] or [])) for row in rows]


async def recent(
    session: AsyncSession, user_id: uuid.UUID, *, tiers: Sequence[MemoryTier], limit: int
) -> list[Memory]:
    result = await session.execute(
        select(Memory)
        .options(*SLIM)
        .where(*_scope(user_id, tiers))
        .order_by(Memory.accessed_at.desc())
        .limit(limit)
    )
    return list(result.scalars())


async def mark_accessed(
    session: AsyncSession, user_id: uuid.UUID, memory_ids: Sequence[uuid.UUID], now: datetime
) -> None:
    if not memory_ids:
        return
    # ``= ANY(:ids)``: one statement text (and prepared statement) whatever the number of ids.
    ids = bindparam("ids", list(memory_ids), type_=ARRAY(UUID(as_uuid=True)))
    await session.execute(
        update(Memory)
        .where(Memory.user_id == user_id, Memory.id == any_(ids))
        .values(access_count=Memory.access_count + 1, accessed_at=now)
        .execution_options(synchronize_session=False)
    )


async def list_page(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    tier: MemoryTier | None,
    source: str | None,
    goal_id: uuid.UUID | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Memory]:
    """Newest first, keyset-paginated on (created_at, id)."""
    clauses: list[Any] = [Memory.user_id == user_id]
    if tier is not None:
        clauses.append(Memory.tier == tier)
    if source is not None:
        clauses.append(Memory.source == source)
    if goal_id is not None:
        clauses.append(Memory.goal_id == goal_id)
    if after is not None:
        created_at, memory_id = after
        clauses.append(
            or_(Memory.created_at < created_at, and_(Memory.created_at == created_at, Memory.id < memory_id))
        )
    result = await session.execute(
        select(Memory)
        .options(*SLIM)
        .where(*clauses)
        .order_by(Memory.created_at.desc(), Memory.id.desc())
        .limit(limit)
    )
    return list(result.scalars())


async def export_page(
    session: AsyncSession, user_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[Memory]:
    """The user's memories oldest first, ``limit`` at a time after the (created_at, id) ``after``."""
    query = select(Memory).options(*SLIM).where(Memory.user_id == user_id)
    if after is not None:
        query = query.where(tuple_(Memory.created_at, Memory.id) > tuple_(*after))
    result = await session.execute(query.order_by(Memory.created_at, Memory.id).limit(limit))
    return list(result.scalars())


async def delete_memory(session: AsyncSession, user_id: uuid.UUID, memory_id: uuid.UUID) -> bool:
    result = await session.execute(
        delete(Memory).where(Memory.id == memory_id, Memory.user_id == user_id).returning(Memory.id)
    )
    return result.scalar_one_or_none() is not None


async def set_goal_archived(
    session: AsyncSession, user_id: uuid.UUID, goal_id: uuid.UUID, archived_at: datetime | None
) -> int:
    """Mark (or, with ``None``, unmark) the project memories of one goal as archived."""
    already = Memory.archived_at.is_(None) if archived_at is not None else Memory.archived_at.is_not(None)
    result = await session.execute(
        update(Memory)
        .where(
            Memory.user_id == user_id,
            Memory.goal_id == goal_id,
            Memory.tier == MemoryTier.project,
            already,
        )
        .values(archived_at=archived_at)
        .returning(Memory.id)
        .execution_options(synchronize_session=False)
    )
    return len(result.all())


# --- jobs (across users: maintenance, never user-facing) ---------------------------------------


async def delete_stale_tasks(session: AsyncSession, cutoff: datetime, batch_size: int) -> int:
    """Delete up to ``batch_size`` task memories created and last accessed before ``cutoff``."""
    doomed = (
        select(Memory.id)
        .where(Memory.tier == MemoryTier.task, Memory.created_at < cutoff, Memory.accessed_at < cutoff)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    result = await session.execute(delete(Memory).where(Memory.id.in_(doomed)).returning(Memory.id))
    return len(result.all())


async def claim_unembedded(session: AsyncSession, batch_size: int, now: datetime) -> list[Memory]:
    """Lock a batch of memories without an embedding (skipping rows another worker holds, and
    those backing off after failing on their own)."""
    result = await session.execute(
        select(Memory)
        .where(
            Memory.embedding.is_(None),
            or_(Memory.embedding_retry_at.is_(None), Memory.embedding_retry_at <= now),
        )
        .order_by(Memory.created_at)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    return list(result.scalars())


async def claim_for_reembed(
    session: AsyncSession, model_name: str, batch_size: int, after: uuid.UUID | None, force: bool
) -> list[Memory]:
    """The next batch (by id) embedded with another model or not at all; every row if ``force``."""
    clauses: list[Any] = []
    if not force:
        clauses.append(or_(Memory.embedding.is_(None), Memory.embedding_model.is_distinct_from(model_name)))
    if after is not None:
        clauses.append(Memory.id > after)
    result = await session.execute(
        select(Memory).where(*clauses).order_by(Memory.id).limit(batch_size).with_for_update(skip_locked=True)
    )
    return list(result.scalars())


async def count_for_reembed(session: AsyncSession, model_name: str, force: bool) -> int:
    statement = select(func.count()).select_from(Memory)
    if not force:
        statement = statement.where(
            or_(Memory.embedding.is_(None), Memory.embedding_model.is_distinct_from(model_name))
        )
    return int((await session.execute(statement)).scalar_one())
