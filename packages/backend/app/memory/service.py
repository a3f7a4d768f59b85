"""Companion memory: storing (with de-duplication), hybrid recall and the companion's tier strategy.

Interface (other domains call these; ``session`` is the caller's AsyncSession: flushed, never
committed; ``embedder`` is the process's ``Resources.embedder``)::

    async def remember(session, embedder, *, user_id: uuid.UUID, tier: str, content: str, source: str,
                       metadata: dict | None = None, goal_id: uuid.UUID | None = None,
                       conversation_id: uuid.UUID | None = None) -> RememberResult
        # .memory (ORM Memory), .created: bool (False = an exact or near duplicate was refreshed)
    async def recall(session, embedder, *, user_id, query: str, tiers: list[str] | None = None,
                     limit: int = 5) -> list[RecalledMemory]    # each has .memory, .score, .breakdown
    async def recall_for_companion(session, embedder, *, user_id, message: str) -> list[RecalledMemory]
        # personal top 5 always; project top 5 when the message is about goals/plans; task top 3
    async def archive_goal_memories(session, *, user_id, goal_id) -> int
        # marks the goal's project memories archived (kept, exported, left out of recall)
    async def restore_goal_memories(session, *, user_id, goal_id) -> int   # the reverse

Bad input (unknown tier, empty or oversized content, limit out of range) raises
``ValidationFailed`` (422). The embedding provider never makes these fail: a memory whose
embedding failed is stored with a NULL embedding and the ``embed_pending_memories`` job fills it
in; a query whose embedding failed is answered from the lexical component alone.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.core.embedding import Embedder, EmbeddingError
from app.core.errors import Conflict, LimitReached, NotFound, invalid_field
from app.core.logging import get_logger
from app.kit.locking import advisory_xact_lock
from app.kit.numbers import clamp
from app.memory import dedup, pgvector, query, repository, scoring, sentences
from app.memory.embeddings import MemoryTuning, tuning_of
from app.memory.repository import Candidate
from app.memory.tasks import embed_pending_memories
from app.models import Memory, MemoryTier

log = get_logger(__name__)

MAX_CONTENT_CHARS = 4000
MAX_QUERY_CHARS = 1000
MAX_SOURCE_CHARS = 64
MAX_METADATA_BYTES = 16_384
MAX_RECALL_LIMIT = 50
NEAR_DUPLICATE_CANDIDATES = 3
# hnsw.ef_search of the near-duplicate check of a large user's store (see _near_duplicates).
DUPLICATE_EF_SEARCH = 100
# Candidates fetched per path before re-ranking, as a multiple of the requested limit.
CANDIDATE_FACTOR = 4
MIN_CANDIDATES = 20
# Terms in more than this share of all memories are not searched lexically (still scored).
COMMON_LEXEME_FREQUENCY = 0.002
COMMON_LEXEMES_TTL_SECONDS = 600.0
_common_lexemes: dict[str, tuple[float, frozenset[str]]] = {}
COMPANION_LIMITS = {MemoryTier.personal: 5, MemoryTier.project: 5, MemoryTier.task: 3}
_GOAL_TALK = re.compile(
    r"\b(goals?|plans?|planning|planned|projects?|milestones?|missions?|deadlines?|progress|targets?|"
    r"objectives?|roadmap|habits?|achieve\w*|accomplish\w*|finish\w*|launch\w*|ship\w*|working on|"
    r"aim\w*|ambitions?|resolutions?|schedule\w*|next steps?|priorit\w*|streaks?|"
    r"thesis|marathon|training|studying|learn\w*|build\w*)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class RememberResult:
    memory: Memory
    created: bool  # False: an existing exact or near-duplicate memory was refreshed instead


@dataclass(frozen=True)
class RecalledMemory:
    memory: Memory
    score: float
    breakdown: dict[str, Any] = field(default_factory=dict)


# --- validation -------------------------------------------------------------------------------


def parse_tier(value: str | MemoryTier, field_name: str = "tier") -> MemoryTier:
    try:
        return MemoryTier(value)
    except ValueError:
        allowed = ", ".join(t.value for t in MemoryTier)
        raise invalid_field(field_name, f"unknown tier {value!r} (one of: {allowed})") from None


def parse_tiers(values: Sequence[str | MemoryTier] | None) -> list[MemoryTier] | None:
    if not values:
        return None
    return sorted({parse_tier(v, "tiers") for v in values}, key=list(MemoryTier).index)


def clean_content(content: str, field_name: str = "content", max_chars: int = MAX_CONTENT_CHARS) -> str:
    cleaned = content.strip()
    if not cleaned:
        raise invalid_field(field_name, "must not be empty")
    if len(cleaned) > max_chars:
        raise invalid_field(field_name, f"must be at most {max_chars} characters (got {len(cleaned)})")
    return cleaned


def _check_metadata(metadata: dict[str, Any] | None, max_bytes: int = MAX_METADATA_BYTES) -> dict[str, Any]:
    if metadata is None:
        return {}
    try:
        size = len(json.dumps(metadata).encode())
    except (TypeError, ValueError):
        raise invalid_field("metadata", "must be a JSON object") from None
    if size > max_bytes:
        raise invalid_field("metadata", f"must be at most {max_bytes} bytes of JSON")
    return dict(metadata)


def _check_merge(memory: Memory, metadata: dict[str, Any], max_bytes: int) -> None:
    """A duplicate write merges its metadata into the stored memory's: the result must fit too, or
    repeated writes with new keys would grow the row without bound."""
    if metadata and len(json.dumps({**memory.meta, **metadata}).encode()) > max_bytes:
        raise invalid_field(
            "metadata",
            f"merged with the metadata of the identical memory already stored ({memory.id}), it would be "
            f"over {max_bytes} bytes of JSON",
        )


async def _check_room(session: AsyncSession, user_id: uuid.UUID, max_memories: int | None) -> None:
    """409 ``limit_reached`` when the user already has ``max_memories``; serialised per user."""
    if max_memories is None:
        return
    await advisory_xact_lock(session, f"memories:{user_id}")
    if await repository.count_up_to(session, user_id, max_memories) >= max_memories:
        raise LimitReached("memories", max_memories)


def _check_source(source: str) -> str:
    cleaned = source.strip()
    if not cleaned or len(cleaned) > MAX_SOURCE_CHARS:
        raise invalid_field("source", f"must be 1 to {MAX_SOURCE_CHARS} characters")
    return cleaned


def content_hash(content: str) -> str:
    """Same hash for texts that differ only in case or whitespace."""
    normalised = " ".join(content.casefold().split())
    return hashlib.sha256(normalised.encode()).hexdigest()


# --- embedding --------------------------------------------------------------------------------


# A text's embedding, and for a memory its sentence embeddings (a ``vector[]`` literal; ``None`` for
# a query, which is matched whole).
Embedding = tuple[list[float], str | None]


async def embed_texts(
    embedder: Embedder, texts: Sequence[str], *, query: bool = False
) -> dict[str, Embedding | None]:
    """Embeddings of ``texts`` in one call, keyed as ``remember`` (or, with ``query``,
    ``recall_for_companion``) looks them up: pass the result as their ``embedded``. This lets a
    caller embed *before* it opens a transaction, so that no pooled database connection waits on
    the embedding provider. A failed call maps every text to ``None`` (stored without embedding,
    filled in later by ``embed_pending_memories``)."""
    keys = list(
        dict.fromkeys(t.strip()[:MAX_QUERY_CHARS] if query else t.strip() for t in texts if t.strip())
    )
    if not keys:
        return {}
    found: list[Embedding | None]
    try:
        if query:
            found = [(vector, None) for vector in await embedder.embed(keys)]
        else:
            found = list(await sentences.embed_with_sentences(embedder, keys))
    except EmbeddingError as exc:
        log.warning("embedding_failed", model=embedder.model_name, error=str(exc))
        found = [None] * len(keys)
    return dict(zip(keys, found, strict=True))


async def _embedding(
    embedder: Embedder,
    text: str,
    embedded: Mapping[str, Embedding | None] | None = None,
    *,
    query: bool = False,
) -> tuple[list[float] | None, str | None]:
    """``text``'s embedding from ``embedded`` when the caller computed it, else now; (None, None)
    when the provider fails."""
    if embedded is None or text not in embedded:
        embedded = await embed_texts(embedder, [text], query=query)
    return embedded.get(text) or (None, None)


# --- remember ---------------------------------------------------------------------------------


async def remember(
    session: AsyncSession,
    embedder: Embedder,
    *,
    user_id: uuid.UUID,
    tier: str,
    content: str,
    source: str,
    metadata: dict[str, Any] | None = None,
    goal_id: uuid.UUID | None = None,
    conversation_id: uuid.UUID | None = None,
    max_memories: int | None = None,
    max_metadata_bytes: int = MAX_METADATA_BYTES,
    embedded: Mapping[str, Embedding | None] | None = None,
) -> RememberResult:
    """Store a memory, or refresh the exact/near duplicate the user already has in that tier.

    ``max_memories`` (the API passes MAX_MEMORIES_PER_USER): a new row past it is a 409; refreshing
    a duplicate is always allowed. Metadata, merged into a duplicate's, stays within
    ``max_metadata_bytes`` (422). ``embedded`` (from ``embed_texts``): the content's embeddings
    computed beforehand, so that the caller's transaction does not wait on the embedding provider."""
    memory_tier = parse_tier(tier)
    text = clean_content(content)
    meta = _check_metadata(metadata, max_metadata_bytes)
    source = _check_source(source)
    digest = content_hash(text)
    now = datetime.now(UTC)
    if embedded is None and not session.in_transaction():
        # Embedded before the first statement: the session takes its connection from the pool
        # only then, so no connection waits on the embedding provider (an exact duplicate, found
        # below, wastes this call). Callers already in a transaction pass ``embedded``.
        embedded = await embed_texts(embedder, [text])

    existing = await repository.get_by_hash(session, user_id, memory_tier, digest)
    if existing is not None:
        _check_merge(existing, meta, max_metadata_bytes)
        await repository.refresh(session, existing, now, meta)
        return RememberResult(existing, created=False)

    vector, sentence_vectors = await _embedding(embedder, text, embedded)
    tuning = tuning_of(embedder)
    if vector is not None:
        for near in await _near_duplicates(session, tuning, user_id, vector, memory_tier):
            if dedup.is_near_duplicate(
                text, near.memory.content, near.similarity or 0.0, tuning.duplicate_threshold
            ):
                _check_merge(near.memory, meta, max_metadata_bytes)
                await repository.refresh(session, near.memory, now, meta)
                log.info("memory_near_duplicate", similarity=round(near.similarity or 0.0, 4))
                return RememberResult(near.memory, created=False)

    await _check_room(session, user_id, max_memories)
    memory_id, inserted = await repository.insert_memory(
        session,
        {
            "user_id": user_id,
            "tier": memory_tier,
            "content": text,
            "content_hash": digest,
            "embedding": vector,
            "sentence_embeddings": repository.sentence_vectors(sentence_vectors),
            "embedding_model": embedder.model_name if vector is not None else None,
            "meta": meta,
            "source": source,
            "goal_id": goal_id,
            "conversation_id": conversation_id,
            "created_at": now,
            "updated_at": now,
            "accessed_at": now,
        },
    )
    memory = await repository.get(session, user_id, memory_id)
    assert memory is not None
    if not inserted:  # a concurrent request stored the same text first
        _check_merge(memory, meta, max_metadata_bytes)
        await repository.refresh(session, memory, now, meta)
        return RememberResult(memory, created=False)
    if vector is None:
        embed_pending_memories.defer(session)
    return RememberResult(memory, created=True)


# --- recall -----------------------------------------------------------------------------------


async def _near_duplicates(
    session: AsyncSession, tuning: MemoryTuning, user_id: uuid.UUID, vector: list[float], tier: MemoryTier
) -> list[Candidate]:
    """The few memories closest to a new one (whole-text similarity), to check for a near duplicate.

    Exact for users with few memories. For larger users one small HNSW scan and no exact fallback:
    a near duplicate (cosine >= 0.9) is among the very nearest rows, and a store must not scan a
    large user's rows; if the index misses one, the new memory is stored (nothing is lost).
    """
    rows = await repository.count_up_to(session, user_id, tuning.exact_search_max_rows + 1)
    iterative = (await pgvector.detect(session)).iterative_scan
    return await repository.vector_candidates(
        session,
        user_id,
        vector,
        tiers=[tier],
        limit=NEAR_DUPLICATE_CANDIDATES,
        exact=rows <= tuning.exact_search_max_rows,
        ef_search=DUPLICATE_EF_SEARCH,
        enough=0,
        sentences=False,  # duplicates are judged on the whole text (dedup.py)
        iterative=iterative,
    )


def _scored(
    candidate: Candidate,
    signals: scoring.Signals,
    tuning: MemoryTuning,
    best_bm25: float,
    now: datetime,
) -> RecalledMemory:
    memory = candidate.memory
    relevance = scoring.relevance(signals, tuning.fusion, best_bm25, tuning.similarity_floor)
    recency = scoring.recency(memory.accessed_at, now, memory.tier)
    frequency = scoring.frequency(memory.access_count)
    score = scoring.combine(relevance, recency, frequency)
    parts: dict[str, Any] = {
        "similarity": None if signals.similarity is None else round(clamp(signals.similarity), 6),
        "dense_rank": signals.dense_rank,
        "lexical": round(clamp(signals.bm25 / best_bm25), 6) if best_bm25 > 0 else 0.0,
        "bm25": round(signals.bm25, 6),
        "lexical_rank": signals.lexical_rank,
        "coverage": round(clamp(signals.coverage), 6),
        "relevance": round(relevance, 6),
        "recency": round(recency, 6),
        "frequency": round(frequency, 6),
        "score": round(score, 6),
    }
    return RecalledMemory(memory, score, parts)


def _recent(memory: Memory, now: datetime) -> RecalledMemory:
    """A recently used memory filling the companion's task context (no match with the message)."""
    recency = scoring.recency(memory.accessed_at, now, memory.tier)
    frequency = scoring.frequency(memory.access_count)
    score = scoring.combine(0.0, recency, frequency)
    parts: dict[str, Any] = {
        "similarity": None,
        "dense_rank": None,
        "lexical": 0.0,
        "bm25": 0.0,
        "lexical_rank": None,
        "coverage": 0.0,
        "relevance": 0.0,
        "recency": round(recency, 6),
        "frequency": round(frequency, 6),
        "score": round(score, 6),
        "strategy": "recent",
    }
    return RecalledMemory(memory, score, parts)


def _rank(
    dense: dict[uuid.UUID, Candidate],
    lexical: dict[uuid.UUID, Candidate],
    hits: dict[uuid.UUID, repository.LexicalHit],
    tuning: MemoryTuning,
    limit: int,
    now: datetime,
) -> list[RecalledMemory]:
    """Fuse one group's dense and lexical candidates; the best ``limit`` above the floor."""
    by_similarity = sorted(dense.values(), key=lambda c: (-(c.similarity or 0.0), c.memory.id))
    dense_rank = {c.memory.id: rank for rank, c in enumerate(by_similarity, start=1)}
    best_bm25 = max((hits[i].bm25 for i in lexical if i in hits), default=0.0)
    results: list[RecalledMemory] = []
    for memory_id, candidate in {**lexical, **dense}.items():
        hit = hits.get(memory_id) if memory_id in lexical else None
        signals = scoring.Signals(
            similarity=candidate.similarity,
            dense_rank=dense_rank.get(memory_id),
            bm25=hit.bm25 if hit else 0.0,
            lexical_rank=hit.rank if hit else None,
            coverage=hit.coverage if hit else 0.0,
        )
        if scoring.passes_floor(signals.similarity, signals.coverage, tuning.similarity_floor):
            results.append(_scored(candidate, signals, tuning, best_bm25, now))
    results.sort(key=lambda r: (-r.score, r.memory.id))
    return results[:limit]


async def _search(
    session: AsyncSession,
    tuning: MemoryTuning,
    *,
    user_id: uuid.UUID,
    text: str,
    vector: list[float] | None,
    tiers: Sequence[MemoryTier] | None,
    limits: dict[MemoryTier | None, int],
    now: datetime,
    recent_tier: MemoryTier | None = None,
) -> tuple[dict[MemoryTier | None, list[RecalledMemory]], list[Memory]]:
    """Hybrid search in as few round trips as possible.

    ``limits`` maps each group to its result count: ``{None: n}`` searches ``tiers`` as one group;
    ``{tier: n, ...}`` ranks each tier on its own (the companion). Returns each group's results
    and, with ``recent_tier``, that tier's most recently used memories (``limits[recent_tier]``).

    Small users (the exact path): 2 statements — (1) row count, query terms and the exact nearest
    memories of every group; (2) lexical candidates of every group plus the recent memories.
    Larger users add one HNSW search per group between the two.
    """
    per_tier = None not in limits
    pool = max(max(limits.values()) * CANDIDATE_FACTOR, MIN_CANDIDATES)
    iterative = (await pgvector.detect(session)).iterative_scan
    ef_search = tuning.ef_search(iterative)
    first = await repository.first_pass(
        session,
        user_id,
        vector,
        tiers=tiers,
        limit=pool,
        per_tier=per_tier,
        exact_max_rows=tuning.exact_search_max_rows,
        ef_search=ef_search,
        iterative=iterative,
    )
    candidates: dict[MemoryTier | None, dict[uuid.UUID, Candidate]] = {group: {} for group in limits}

    def add(group_candidates: Sequence[Candidate]) -> None:
        for candidate in group_candidates:
            group = candidate.memory.tier if per_tier else None
            if group in candidates:
                candidates[group].setdefault(candidate.memory.id, candidate)

    if vector is not None:
        if first.exact:
            add(first.candidates)
        elif per_tier:  # one index scan for every tier; the exact scan for a tier it leaves short
            add(
                await repository.hnsw_candidates_per_tier(
                    session,
                    user_id,
                    vector,
                    tiers=[group for group in limits if group is not None],
                    limit=pool,
                    ef_search=ef_search,
                )
            )
            for group, limit in limits.items():
                if group is not None and len(candidates[group]) < limit:
                    candidates[group].clear()  # as a scan of that tier alone would have: exact
                    add(
                        await repository.vector_candidates(
                            session,
                            user_id,
                            vector,
                            tiers=[group],
                            limit=pool,
                            exact=True,
                            ef_search=ef_search,
                        )
                    )
        else:
            for group, limit in limits.items():
                # The extra candidates only feed the re-ranking: the index answering ``limit`` is enough.
                add(
                    await repository.vector_candidates(
                        session,
                        user_id,
                        vector,
                        tiers=tiers if group is None else [group],
                        limit=pool,
                        exact=False,
                        ef_search=ef_search,
                        enough=limit,
                        set_ef=False,
                        iterative=iterative,
                    )
                )
    # A large user's lexical search leaves out the terms found everywhere (long posting lists);
    # a small user's covers every term (it reads at most MEMORY_EXACT_SEARCH_MAX_ROWS rows).
    common = frozenset() if first.exact else await _common(session)
    second = await repository.second_pass(
        session,
        user_id,
        query.analyse(text),
        vector,
        tiers=tiers,
        limit=pool,
        per_tier=per_tier,
        rows=first.rows,
        common=sorted(common),
        # Sorting a small user's rows by last access is cheap, so the recent memories come along
        # whether needed or not; a large user's are fetched below only when the tier is short.
        recent_tier=recent_tier if first.exact else None,
        recent_limit=limits.get(recent_tier, 0) if recent_tier is not None else 0,
    )
    lexical: dict[MemoryTier | None, dict[uuid.UUID, Candidate]] = {group: {} for group in limits}
    for candidate in second.lexical:
        group = candidate.memory.tier if per_tier else None
        if group in lexical:
            lexical[group].setdefault(candidate.memory.id, candidate)
    found = {
        group: _rank(candidates[group], lexical[group], second.hits, tuning, limit, now)
        for group, limit in limits.items()
    }
    recent = second.recent
    if recent_tier is not None and not first.exact and len(found[recent_tier]) < limits[recent_tier]:
        recent = await repository.recent(session, user_id, tiers=[recent_tier], limit=limits[recent_tier])
    return found, recent


async def _common(session: AsyncSession) -> frozenset[str]:
    """The planner's most common search terms, cached per process for a few minutes."""
    key = str(session.get_bind().engine.url)
    cached = _common_lexemes.get(key)
    if cached is None or time.monotonic() - cached[0] > COMMON_LEXEMES_TTL_SECONDS:
        cached = (time.monotonic(), await repository.common_lexemes(session, COMMON_LEXEME_FREQUENCY))
        _common_lexemes[key] = cached
    return cached[1]


def _check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_RECALL_LIMIT:
        raise invalid_field("limit", f"must be between 1 and {MAX_RECALL_LIMIT}")
    return limit


async def _mark_accessed(
    session: AsyncSession, user_id: uuid.UUID, results: Sequence[RecalledMemory], now: datetime
) -> None:
    await repository.mark_accessed(session, user_id, [r.memory.id for r in results], now)
    for result in results:  # keep the returned objects in step with the database (not dirty)
        set_committed_value(result.memory, "access_count", result.memory.access_count + 1)
        set_committed_value(result.memory, "accessed_at", now)


async def recall(
    session: AsyncSession,
    embedder: Embedder,
    *,
    user_id: uuid.UUID,
    query: str,
    tiers: list[str] | None = None,
    limit: int = 5,
) -> list[RecalledMemory]:
    """The user's memories best matching ``query``, best first, each with its score breakdown.

    The scores reflect the memories before this recall; the returned memories count as accessed.
    """
    text = clean_content(query, "q", MAX_QUERY_CHARS)
    tier_filter = parse_tiers(tiers)
    _check_limit(limit)
    now = datetime.now(UTC)
    vector, _ = await _embedding(embedder, text, query=True)
    found, _ = await _search(
        session,
        tuning_of(embedder),
        user_id=user_id,
        text=text,
        vector=vector,
        tiers=tier_filter,
        limits={None: limit},
        now=now,
    )
    results = found[None]
    await _mark_accessed(session, user_id, results, now)
    return results


def is_about_goals(message: str) -> bool:
    """Whether a message talks about goals, plans or progress (then project memories are recalled)."""
    return _GOAL_TALK.search(message) is not None


async def recall_for_companion(
    session: AsyncSession,
    embedder: Embedder,
    *,
    user_id: uuid.UUID,
    message: str,
    embedded: Mapping[str, Embedding | None] | None = None,
) -> list[RecalledMemory]:
    """Context for one companion turn: personal memories always (top 5), project memories when the
    message is about goals or plans (top 5), and task memories for recent context (top 3: the best
    matches, filled up with the most recently used). Personal first, then project, then task.
    ``embedded``: the message's embedding computed beforehand (``embed_texts(..., query=True)``)."""
    text = message.strip()[:MAX_QUERY_CHARS]
    if not text:
        return []
    now = datetime.now(UTC)
    vector, _ = await _embedding(embedder, text, embedded, query=True)
    tiers = [MemoryTier.personal, MemoryTier.task]
    if is_about_goals(text):
        tiers.insert(1, MemoryTier.project)
    found, recent = await _search(
        session,
        tuning_of(embedder),
        user_id=user_id,
        text=text,
        vector=vector,
        tiers=tiers,
        limits={tier: COMPANION_LIMITS[tier] for tier in tiers},
        now=now,
        recent_tier=MemoryTier.task,
    )
    results: list[RecalledMemory] = []
    for tier in tiers:
        limit = COMPANION_LIMITS[tier]
        matches = found[tier]
        if tier is MemoryTier.task and len(matches) < limit:
            seen = {r.memory.id for r in matches}
            for memory in recent:
                if memory.id in seen or len(matches) >= limit:
                    continue
                matches.append(_recent(memory, now))
        results.extend(matches)
    await _mark_accessed(session, user_id, results, now)
    return results


# --- goals ------------------------------------------------------------------------------------


async def archive_goal_memories(session: AsyncSession, *, user_id: uuid.UUID, goal_id: uuid.UUID) -> int:
    """The goal was archived: its project memories are marked archived (kept and exported, left out
    of recall and the companion's context). Idempotent; returns how many were newly marked."""
    count = await repository.set_goal_archived(session, user_id, goal_id, datetime.now(UTC))
    log.info("goal_memories_archived", goal_id=str(goal_id), count=count)
    return count


async def restore_goal_memories(session: AsyncSession, *, user_id: uuid.UUID, goal_id: uuid.UUID) -> int:
    """The goal is active again: its project memories come back into recall."""
    return await repository.set_goal_archived(session, user_id, goal_id, None)


# --- the API's other operations ---------------------------------------------------------------


async def get_memory(session: AsyncSession, *, user_id: uuid.UUID, memory_id: uuid.UUID) -> Memory:
    memory = await repository.get(session, user_id, memory_id)
    if memory is None:
        raise NotFound("Memory not found")
    return memory


async def update_memory(
    session: AsyncSession,
    embedder: Embedder,
    *,
    user_id: uuid.UUID,
    memory_id: uuid.UUID,
    changes: dict[str, Any],
    max_metadata_bytes: int = MAX_METADATA_BYTES,
) -> Memory:
    """Apply a partial update (content, tier, metadata, goal_id); new content is re-embedded."""
    # Embedded before the first statement when there is none yet (see ``remember``).
    given = clean_content(changes["content"]) if changes.get("content") is not None else None
    embedded = None
    if given is not None and not session.in_transaction():
        embedded = await embed_texts(embedder, [given])
    memory = await get_memory(session, user_id=user_id, memory_id=memory_id)
    tier = parse_tier(changes["tier"]) if changes.get("tier") is not None else memory.tier
    content = clean_content(changes["content"]) if changes.get("content") is not None else memory.content
    digest = content_hash(content)
    if (tier, digest) != (memory.tier, memory.content_hash):
        clash = await repository.get_by_hash(session, user_id, tier, digest)
        if clash is not None and clash.id != memory.id:
            raise Conflict("An identical memory already exists in that tier", details={"id": str(clash.id)})
    if content != memory.content:
        vector, sentence_vectors = await _embedding(embedder, content, embedded)
        memory.embedding = vector
        memory.sentence_embeddings = repository.sentence_vectors(sentence_vectors)
        memory.embedding_model = embedder.model_name if vector is not None else None
        memory.embedding_failures, memory.embedding_retry_at = 0, None  # new text, a fresh start
        if vector is None:
            embed_pending_memories.defer(session)
    memory.tier, memory.content, memory.content_hash = tier, content, digest
    if "metadata" in changes and changes["metadata"] is not None:
        memory.meta = _check_metadata(changes["metadata"], max_metadata_bytes)
    if "goal_id" in changes:
        memory.goal_id = changes["goal_id"]
    memory.updated_at = datetime.now(UTC)
    await session.flush()
    return memory


async def delete_memory(session: AsyncSession, *, user_id: uuid.UUID, memory_id: uuid.UUID) -> None:
    if not await repository.delete_memory(session, user_id, memory_id):
        raise NotFound("Memory not found")
