"""Queries for memories: the only place that builds SQL for the memory domain.

Every query takes the owner's ``user_id`` and filters by it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    Float,
    Integer,
    Select,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    case,
    cast,
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
from sqlalchemy.dialects.postgresql import ARRAY, UUID, distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from app.memory.query import QueryPlan
from app.models import Memory, MemoryTier
from app.models.memory import PARTITION_SCHEMA

# Rows read in bulk leave out the embedding and the tsvector: parsing 384 floats per row would
# cost more than the search itself. ``Memory.embedding_model`` says whether a row is embedded.
SLIM = (defer(Memory.embedding), defer(Memory.content_tsv))
# A lexical search ranks at most this many matching rows (a user on the exact path has at most
# MEMORY_EXACT_SEARCH_MAX_ROWS; a larger user's search leaves common terms out, so rare ones match
# few rows).
LEXICAL_SCAN_CAP = 2000


@dataclass(frozen=True)
class Candidate:
    """A memory found for a query, with its raw signals (``None``: not computed for this row)."""

    memory: Memory
    similarity: float | None


@dataclass(frozen=True)
class FirstPass:
    """What one round trip learns before the re-ranking (``first_pass``)."""

    rows: int  # the user's memories, counted no further than the exact-search cap + 1
    exact: bool  # the candidates below come from the exact search (else: run the HNSW search)
    candidates: list[Candidate]  # exact path only: the nearest memories (per tier if asked)


@dataclass(frozen=True)
class SecondPass:
    """Lexical candidates and (if asked) the most recently used memories of one tier."""

    lexical: list[Candidate]
    recent: list[Memory]
    hits: dict[uuid.UUID, LexicalHit]  # each lexical candidate's rank, BM25 score and coverage


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
    sentences: bool = True,
    iterative: bool = False,
) -> list[Candidate]:
    """The user's ``limit`` nearest memories by cosine similarity.

    ``exact``: a sequential distance computation over the user's rows only (ordering by an
    expression the HNSW index cannot serve). Otherwise the HNSW index with ``ef_search``: pgvector
    (before 0.8) filters by user after the index scan, which returns at most ``ef_search`` rows, so
    an answer shorter than ``enough`` (default ``limit``) falls back to the exact search.
    """
    distance = Memory.embedding.op("<=>", return_type=Float)(vector)
    clauses = [*_scope(user_id, tiers), Memory.embedding.is_not(None)]
    if exact:
        similarity = _similarity(vector, sentences).label("similarity")
        statement: Select[Any] = (
            select(Memory, similarity).options(*SLIM).where(*clauses).order_by(similarity.desc()).limit(limit)
        )
    else:
        if set_ef:  # else the caller set it in this transaction (``first_pass``)
            await set_hnsw(session, ef_search, iterative)
        statement = (
            select(Memory, _similarity(vector, sentences).label("similarity"))
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
            sentences=sentences,
        )
    return [Candidate(row[0], float(row[1])) for row in rows]


def _hnsw_settings(ef_search: int, iterative: bool) -> list[Any]:
    """``set_config`` calls for this transaction's HNSW scans. ``iterative`` (pgvector >= 0.8 only:
    0.6 rejects the setting): keep scanning until enough rows pass the filters, in relaxed order
    (the caller re-ranks anyway)."""
    calls = [func.set_config("hnsw.ef_search", str(ef_search), true())]
    if iterative:
        calls.append(func.set_config("hnsw.iterative_scan", "relaxed_order", true()))
    return calls


async def set_hnsw(session: AsyncSession, ef_search: int, iterative: bool) -> None:
    await session.execute(select(*_hnsw_settings(ef_search, iterative)))


def sentence_vectors(literal_text: str | None) -> Any:
    """The ``sentence_embeddings`` value from ``sentences.to_literal`` (cast in SQL: the driver has
    no codec for ``vector[]``); ``None`` stays NULL (not computed yet)."""
    if literal_text is None:
        return null()
    return cast(literal(literal_text, Text), ARRAY(Vector()))


def _similarity(vector: list[float], sentences: bool = True) -> Any:
    """Cosine similarity of each memory to ``vector``: the better of the whole text's and (with
    ``sentences``) its best sentence's (``sentences.py``; NULL or '{}' sentence embeddings: whole)."""
    query_vector = literal(vector, Vector())
    whole = Memory.embedding.op("<=>", return_type=Float)(query_vector)
    if not sentences:
        return 1 - whole
    sentence = func.unnest(Memory.sentence_embeddings).column_valued("sentence")
    best = select(func.min(sentence.op("<=>", return_type=Float)(query_vector))).scalar_subquery()
    # The sub-select only runs for memories that have sentence embeddings (most are one sentence).
    has_sentences = func.cardinality(Memory.sentence_embeddings) > 0
    return 1 - case((has_sentences, func.least(whole, best)), else_=whole)


async def first_pass(
    session: AsyncSession,
    user_id: uuid.UUID,
    vector: list[float] | None,
    *,
    tiers: Sequence[MemoryTier] | None,
    limit: int,
    per_tier: bool,
    exact_max_rows: int,
    ef_search: int,
    iterative: bool = False,
) -> FirstPass:
    """One statement: the user's row count (capped), the transaction's
    ``hnsw.ef_search`` and, for users with at most ``exact_max_rows`` memories, the exact nearest
    ``limit`` memories (``per_tier``: ``limit`` per tier, ranked by a window function).

    The exact scan sits behind a one-time filter on the count (an InitPlan), so for larger users
    PostgreSQL never runs it; the caller then searches the HNSW index (``vector_candidates`` with
    ``set_ef=False``: this statement already set ``ef_search``).
    """
    capped = select(literal_column("1")).where(Memory.user_id == user_id).limit(exact_max_rows + 1).subquery()
    counted = select(func.count().label("n")).select_from(capped).cte("counted")  # counted once
    rows = select(counted.c.n).scalar_subquery()
    settings = _hnsw_settings(ef_search, iterative)
    head = select(
        rows.label("n"),
        func.concat(*settings).label("ef") if len(settings) > 1 else settings[0].label("ef"),
    ).subquery("head")
    if vector is None:
        n, _ = (await session.execute(select(head.c.n, head.c.ef))).one()
        return FirstPass(int(n), int(n) <= exact_max_rows, [])
    similarity = _similarity(vector)
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
            head.c.ef,
            Memory,
            nearest.c.similarity,
        )
        .options(*SLIM)
        .select_from(head)
        .outerjoin(nearest, true())
        .outerjoin(Memory, and_(Memory.id == nearest.c.id, Memory.user_id == user_id))
        .order_by(nearest.c.rn, Memory.tier)
    )
    result = (await session.execute(statement)).all()
    n = int(result[0][0])
    candidates = [Candidate(row[2], float(row[3])) for row in result if row[2] is not None]
    return FirstPass(n, n <= exact_max_rows, candidates)


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
        select(Memory, _similarity(vector))
        .options(*SLIM)
        .join(ranked, Memory.id == ranked.c.id)
        .where(Memory.user_id == user_id, ranked.c.rn <= limit)
        .order_by(Memory.tier, ranked.c.rn)
    )
    rows = (await session.execute(statement)).all()
    return [Candidate(row[0], float(row[1])) for row in rows]


# BM25 parameters of the lexical ranking (Robertson & Zaragoza's usual values).
BM25_K1 = 1.2
BM25_B = 0.75

# The lexical candidate generator, a BM25 ranking in core PostgreSQL full text (no extension):
# - ``terms``: every query term as a tsquery (``query.Term``: plain words stemmed like
#   ``content_tsv``, phrases, date days), with its weight; terms made only of common lexemes
#   (``:lex_common``, large users only) are left out;
# - ``matches``: the user's memories containing any term (GIN index), at most ``:lex_cap``;
# - document frequencies are counted on ``matches`` (which holds every memory with the term, so the
#   count is exact), N is the user's row count (capped like the exact-search count);
# - score = sum over matched terms of weight x idf x (k1 + 1) / (1 + k1 (1 - b + b dl / avgdl)),
#   dl the memory's number of distinct lexemes, avgdl their mean over ``matches``; term frequency
#   counts as 1 (memories are short; ``tsvector`` keeps positions, not counts, for free);
# - coverage = the memory's sum of weight x idf over the query's total (terms absent from every
#   memory count with the largest idf): how much of the query the memory matches.
_LEXICAL_SQL = """
WITH terms AS (
    SELECT DISTINCT ON (q::text) q, w FROM (
        SELECT CASE u.k WHEN 'phrase' THEN phraseto_tsquery('english', u.x)
                        WHEN 'raw' THEN to_tsquery('simple', u.x)
                        ELSE plainto_tsquery('english', u.x) END AS q, u.w
        FROM unnest(CAST(:lex_terms AS text[]), CAST(:lex_kinds AS text[]), CAST(:lex_weights AS float8[]))
            AS u(x, k, w)
    ) AS parsed
    WHERE numnode(q) > 0 AND NOT (q::text = ANY (
        SELECT quote_literal(c) FROM unnest(CAST(:lex_common AS text[])) AS c))
    ORDER BY q::text, w DESC
),
wanted AS (
    SELECT to_tsquery('simple', string_agg(quote_literal(lexeme), ' | ')) AS q
    FROM unnest(tsvector_to_array(to_tsvector('english', :lex_words))) AS lexeme
    WHERE lexeme <> ALL (CAST(:lex_common AS text[]))
),
matches AS MATERIALIZED (
    SELECT m.id, m.tier, m.content_tsv AS tsv FROM memories AS m
    WHERE m.user_id = :lex_user AND m.archived_at IS NULL {tiers}
      AND m.content_tsv @@ (SELECT q FROM wanted)
    LIMIT :lex_cap
),
hits AS (
    SELECT matches.id, terms.q::text AS qt, terms.w FROM matches JOIN terms ON matches.tsv @@ terms.q
),
df AS (SELECT qt, count(*) AS df FROM hits GROUP BY qt),
stats AS (
    SELECT greatest(CAST(:lex_n AS float8), count(*)) AS n, greatest(avg(length(tsv)), 1) AS avgdl
    FROM matches
),
scored AS (
    SELECT hits.id, sum(hits.w * ln(1 + (stats.n - df.df + 0.5) / (df.df + 0.5))) AS idf
    FROM hits JOIN df USING (qt) CROSS JOIN stats GROUP BY hits.id
),
whole_query AS (
    SELECT sum(terms.w * ln(1 + (stats.n - coalesce(df.df, 0) + 0.5) / (coalesce(df.df, 0) + 0.5))) AS total
    FROM terms LEFT JOIN df ON df.qt = terms.q::text CROSS JOIN stats
),
ranked AS (
    SELECT matches.id, matches.tier, scored.idf,
           scored.idf * ({k1} + 1) / (1 + {k1} * (1 - {b} + {b} * length(matches.tsv) / stats.avgdl)) AS bm25
    FROM scored JOIN matches USING (id) CROSS JOIN stats
)
SELECT id, bm25, coalesce(idf / nullif((SELECT total FROM whole_query), 0), 0) AS coverage,
       row_number() OVER ({partition} ORDER BY bm25 DESC, id) AS rn
FROM ranked
"""


@dataclass(frozen=True)
class LexicalHit:
    """A memory's place in the lexical ranking of a query."""

    rank: int  # 1 = best, within its group (its tier for the companion)
    bm25: float
    coverage: float  # share of the query's idf-weighted terms the memory contains


def _lexical_ranked(
    user_id: uuid.UUID,
    plan: QueryPlan,
    *,
    tiers: Sequence[MemoryTier] | None,
    per_tier: bool,
    rows: int,
    common: Sequence[str],
) -> Any:
    """The BM25 ranking of the user's memories for ``plan`` (id, bm25, coverage, rn) as a subquery."""
    sql = _LEXICAL_SQL.format(
        tiers="AND m.tier = ANY (CAST(:lex_tiers AS memory_tier[]))" if tiers else "",
        partition="PARTITION BY tier" if per_tier else "",
        k1=BM25_K1,
        b=BM25_B,
    )
    params: dict[str, Any] = {
        "lex_terms": [t.text for t in plan.terms],
        "lex_kinds": [t.kind.value for t in plan.terms],
        "lex_weights": [t.weight for t in plan.terms],
        "lex_common": list(common),
        "lex_words": plan.any_words.replace("|", " "),
        "lex_user": user_id,
        "lex_cap": LEXICAL_SCAN_CAP,
        "lex_n": rows,
    }
    if tiers:
        params["lex_tiers"] = [t.value for t in tiers]
    return (
        text(sql)
        .bindparams(**params)
        .columns(
            literal_column("id", UUID(as_uuid=True)),
            literal_column("bm25", Float),
            literal_column("coverage", Float),
            literal_column("rn", Integer),
        )
        .subquery("lexical")
    )


async def second_pass(
    session: AsyncSession,
    user_id: uuid.UUID,
    plan: QueryPlan,
    vector: list[float] | None,
    *,
    tiers: Sequence[MemoryTier] | None,
    limit: int,
    per_tier: bool,
    rows: int,
    common: Sequence[str] = (),
    recent_tier: MemoryTier | None = None,
    recent_limit: int = 0,
) -> SecondPass:
    """One statement: the lexical candidates (BM25 ranking above; best ``limit`` in all or,
    ``per_tier``, per tier) with their similarity to ``vector``, and the ``recent_limit`` most
    recently used memories of ``recent_tier``."""
    parts: list[Any] = []
    if plan.terms and plan.any_words:
        lexical = _lexical_ranked(user_id, plan, tiers=tiers, per_tier=per_tier, rows=rows, common=common)
        parts.append(
            select(
                lexical.c.id,
                literal(0).label("kind"),
                lexical.c.rn,
                lexical.c.bm25,
                lexical.c.coverage,
            ).where(lexical.c.rn <= limit)
        )
    if recent_tier is not None and recent_limit > 0:
        order = (Memory.accessed_at.desc(), Memory.id)
        parts.append(
            select(
                Memory.id.label("id"),
                literal(1).label("kind"),
                func.row_number().over(order_by=order).label("rn"),
                literal(0.0, Float).label("bm25"),
                literal(0.0, Float).label("coverage"),
            )
            .where(*_scope(user_id, [recent_tier]))
            .order_by(*order)
            .limit(recent_limit)
        )
    if not parts:
        return SecondPass([], [], {})
    both: Any = union_all(*parts) if len(parts) > 1 else parts[0]
    found = both.subquery("found")
    similarity: Any = _similarity(vector) if vector is not None else null()
    statement = (
        select(
            Memory,
            found.c.kind,
            similarity.label("similarity"),
            found.c.rn,
            found.c.bm25,
            found.c.coverage,
        )
        .options(*SLIM)
        .join(found, Memory.id == found.c.id)
        .where(Memory.user_id == user_id)
        .order_by(found.c.kind, Memory.tier, found.c.rn)
    )
    lexical_candidates: list[Candidate] = []
    recent_rows: list[Memory] = []
    hits: dict[uuid.UUID, LexicalHit] = {}
    for memory, kind, sim, rank, bm25, coverage in (await session.execute(statement)).all():
        if kind == 0:
            lexical_candidates.append(Candidate(memory, None if sim is None else float(sim)))
            hits[memory.id] = LexicalHit(int(rank), float(bm25), float(coverage or 0.0))
        else:
            recent_rows.append(memory)
    return SecondPass(lexical_candidates, recent_rows, hits)


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


def _memories_table(table: Any) -> Table:
    assert isinstance(table, Table)
    return table


@dataclass(frozen=True)
class ToEmbed:
    """A memory to embed, as read (the write checks the content did not change meanwhile)."""

    id: uuid.UUID
    user_id: uuid.UUID
    content: str
    content_hash: str
    embedding_failures: int = 0


_TO_EMBED = (Memory.id, Memory.user_id, Memory.content, Memory.content_hash, Memory.embedding_failures)


async def unembedded(session: AsyncSession, batch_size: int, now: datetime) -> list[ToEmbed]:
    """The oldest memories without an embedding (stored while the provider was failing), except
    those backing off after failing on their own."""
    result = await session.execute(
        select(*_TO_EMBED)
        .where(
            Memory.embedding.is_(None),
            or_(Memory.embedding_retry_at.is_(None), Memory.embedding_retry_at <= now),
        )
        .order_by(Memory.created_at)
        .limit(batch_size)
    )
    return [ToEmbed(*row) for row in result.all()]


async def store_embeddings(
    session: AsyncSession, model_name: str, rows: Sequence[tuple[ToEmbed, list[float], str]]
) -> int:
    """Write each memory's embedding and sentence embeddings, unless its content changed since it
    was read (then the new content's own embedding stands). Returns how many were written."""
    table = _memories_table(Memory.__table__)
    statement = (
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            table.c.user_id == bindparam("b_user"),
            table.c.content_hash == bindparam("b_hash"),
        )
        .values(
            embedding=bindparam("b_vector", type_=Vector()),
            sentence_embeddings=cast(cast(bindparam("b_sentences"), Text), ARRAY(Vector())),
            embedding_model=model_name,
            embedding_failures=0,
            embedding_retry_at=None,
        )
    )
    written = 0
    for r, v, s in rows:  # one statement each: an executemany does not say how many rows it changed
        params = {
            "b_id": r.id,
            "b_user": r.user_id,
            "b_hash": r.content_hash,
            "b_vector": v,
            "b_sentences": s,
        }
        result = await session.execute(statement, params)
        written += int(getattr(result, "rowcount", 0) or 0)
    return written


async def mark_embedding_failures(session: AsyncSession, rows: Sequence[tuple[ToEmbed, datetime]]) -> None:
    """Count one more failure of each memory on its own, and when it may be tried again."""
    if not rows:
        return
    table = _memories_table(Memory.__table__)
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.user_id == bindparam("b_user"))
        .values(embedding_failures=table.c.embedding_failures + 1, embedding_retry_at=bindparam("b_retry"))
    )
    await session.execute(statement, [{"b_id": r.id, "b_user": r.user_id, "b_retry": at} for r, at in rows])


def _needs_embedding(model_name: str) -> Any:
    """Not embedded, embedded by another model, or without its sentence embeddings yet."""
    return or_(
        Memory.embedding.is_(None),
        Memory.embedding_model.is_distinct_from(model_name),
        Memory.sentence_embeddings.is_(None),
    )


async def next_to_reembed(
    session: AsyncSession, model_name: str, batch_size: int, after: uuid.UUID | None, force: bool
) -> list[ToEmbed]:
    """The next batch (by id) not embedded with ``model_name`` and its sentences; every row if
    ``force``. No lock: the write checks the content (``store_embeddings``)."""
    clauses: list[Any] = []
    if not force:
        clauses.append(_needs_embedding(model_name))
    if after is not None:
        clauses.append(Memory.id > after)
    result = await session.execute(select(*_TO_EMBED).where(*clauses).order_by(Memory.id).limit(batch_size))
    return [ToEmbed(*row) for row in result.all()]


async def count_for_reembed(session: AsyncSession, model_name: str, force: bool) -> int:
    statement = select(func.count()).select_from(Memory)
    if not force:
        statement = statement.where(_needs_embedding(model_name))
    return int((await session.execute(statement)).scalar_one())


async def cared_about(session: AsyncSession, user_ids: Sequence[uuid.UUID], max_chars: int) -> list[Any]:
    """Per user, the positive preference they mention most (then the newest): (user_id, id, content)."""
    if not user_ids:
        return []
    ids = bindparam("ids", list(user_ids), type_=ARRAY(UUID(as_uuid=True)))
    result = await session.execute(
        select(Memory.user_id, Memory.id, Memory.content)
        .where(
            Memory.user_id == any_(ids),
            Memory.tier == MemoryTier.personal,
            Memory.archived_at.is_(None),
            Memory.meta["kind"].astext == "preference",
            func.coalesce(Memory.meta["polarity"].astext, "positive") == "positive",
            func.length(Memory.content) <= max_chars,
        )
        .order_by(Memory.user_id, Memory.access_count.desc(), Memory.created_at.desc(), Memory.id)
        .ext(distinct_on(Memory.user_id))
    )
    return list(result.all())
