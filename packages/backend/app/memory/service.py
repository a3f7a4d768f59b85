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
from app.core.errors import Conflict, NotFound, invalid_field
from app.core.logging import get_logger
from app.kit.numbers import clamp
from app.memory import dedup, repository, scoring
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


def _check_metadata(metadata: dict[str, Any] | None) -> dict[str, Any]:
    if metadata is None:
        return {}
    try:
        size = len(json.dumps(metadata).encode())
    except (TypeError, ValueError):
        raise invalid_field("metadata", "must be a JSON object") from None
    if size > MAX_METADATA_BYTES:
        raise invalid_field("metadata", f"must be at most {MAX_METADATA_BYTES} bytes of JSON")
    return dict(metadata)


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


async def _embed_one(
    embedder: Embedder, text: str, embedded: Mapping[str, list[float] | None] | None = None
) -> list[float] | None:
    if embedded is not None and text in embedded:
        return embedded[text]
    try:
        vectors = await embedder.embed([text])
    except EmbeddingError as exc:
        log.warning("embedding_failed", model=embedder.model_name, error=str(exc))
        return None
    return vectors[0]


async def embed_texts(
    embedder: Embedder, texts: Sequence[str], *, query: bool = False
) -> dict[str, list[float] | None]:
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
    try:
        vectors: list[list[float] | None] = list(await embedder.embed(keys))
    except EmbeddingError as exc:
        log.warning("embedding_failed", model=embedder.model_name, error=str(exc))
        vectors = [None] * len(keys)
    return dict(zip(keys, vectors, strict=True))


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
    embedded: Mapping[str, list[float] | None] | None = None,
) -> RememberResult:
    """Store a memory, or refresh the exact/near duplicate the user already has in that tier.

    ``embedded`` (from ``embed_texts``): the content's embedding computed beforehand, so that the
    caller's transaction does not wait on the embedding provider."""
    memory_tier = parse_tier(tier)
    text = clean_content(content)
    meta = _check_metadata(metadata)
    source = _check_source(source)
    digest = content_hash(text)
    now = datetime.now(UTC)
    if embedded is None and not session.in_transaction():
        # Embedded before the first statement: the session takes its connection from the pool
        # only then, so no connection waits on the embedding provider (an exact duplicate, found
        # below, wastes this call). Callers already in a transaction pass ``embedded``.
        embedded = {text: await _embed_one(embedder, text)}

    existing = await repository.get_by_hash(session, user_id, memory_tier, digest)
    if existing is not None:
        await repository.refresh(session, existing, now, meta)
        return RememberResult(existing, created=False)

    vector = await _embed_one(embedder, text, embedded)
    tuning = tuning_of(embedder)
    if vector is not None:
        for near in await _nearest(
            session, tuning, user_id, vector, [memory_tier], limit=NEAR_DUPLICATE_CANDIDATES
        ):
            if dedup.is_near_duplicate(
                text, near.memory.content, near.similarity or 0.0, tuning.duplicate_threshold
            ):
                await repository.refresh(session, near.memory, now, meta)
                log.info("memory_near_duplicate", similarity=round(near.similarity or 0.0, 4))
                return RememberResult(near.memory, created=False)

    memory_id, inserted = await repository.insert_memory(
        session,
        {
            "user_id": user_id,
            "tier": memory_tier,
            "content": text,
            "content_hash": digest,
            "embedding": vector,
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
        await repository.refresh(session, memory, now, meta)
        return RememberResult(memory, created=False)
    if vector is None:
        embed_pending_memories.defer(session)
    return RememberResult(memory, created=True)


# --- recall -----------------------------------------------------------------------------------


async def _nearest(
    session: AsyncSession,
    tuning: MemoryTuning,
    user_id: uuid.UUID,
    vector: list[float],
    tiers: Sequence[MemoryTier] | None,
    limit: int,
    enough: int | None = None,
) -> list[Candidate]:
    """Nearest memories: exact for users with few memories, HNSW (then exact if short) otherwise."""
    rows = await repository.count_up_to(session, user_id, tuning.exact_search_max_rows + 1)
    return await repository.vector_candidates(
        session,
        user_id,
        vector,
        tiers=tiers,
        limit=limit,
        exact=rows <= tuning.exact_search_max_rows,
        ef_search=tuning.hnsw_ef_search,
        enough=enough,
    )


def _breakdown(candidate: Candidate, lexemes: Sequence[str], now: datetime) -> tuple[float, dict[str, Any]]:
    memory = candidate.memory
    parts: dict[str, Any] = {
        "similarity": None if candidate.similarity is None else round(clamp(candidate.similarity), 6),
        "lexical": round(scoring.lexical(lexemes, candidate.lexemes), 6),
        "recency": round(scoring.recency(memory.accessed_at, now, memory.tier), 6),
        "frequency": round(scoring.frequency(memory.access_count), 6),
    }
    score = scoring.combine(parts["similarity"], parts["lexical"], parts["recency"], parts["frequency"])
    parts["score"] = round(score, 6)
    return score, parts


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
    first = await repository.first_pass(
        session,
        user_id,
        text,
        vector,
        tiers=tiers,
        limit=pool,
        per_tier=per_tier,
        exact_max_rows=tuning.exact_search_max_rows,
        ef_search=tuning.hnsw_ef_search,
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
                    ef_search=tuning.hnsw_ef_search,
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
                            ef_search=tuning.hnsw_ef_search,
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
                        ef_search=tuning.hnsw_ef_search,
                        enough=limit,
                        set_ef=False,
                    )
                )
    common = await _common(session)
    rare = [lexeme for lexeme in first.lexemes if lexeme not in common]
    second = await repository.second_pass(
        session,
        user_id,
        rare,
        vector,
        tiers=tiers,
        limit=pool,
        per_tier=per_tier,
        # Sorting a small user's rows by last access is cheap, so the recent memories come along
        # whether needed or not; a large user's are fetched below only when the tier is short.
        recent_tier=recent_tier if first.exact else None,
        recent_limit=limits.get(recent_tier, 0) if recent_tier is not None else 0,
    )
    add(second.lexical)
    found: dict[MemoryTier | None, list[RecalledMemory]] = {}
    for group, limit in limits.items():
        results: list[RecalledMemory] = []
        for candidate in candidates[group].values():
            score, parts = _breakdown(candidate, first.lexemes, now)
            if scoring.passes_floor(candidate.similarity, parts["lexical"], tuning.similarity_floor):
                results.append(RecalledMemory(candidate.memory, score, parts))
        results.sort(key=lambda r: (-r.score, r.memory.id))
        found[group] = results[:limit]
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
    vector = await _embed_one(embedder, text)
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
    embedded: Mapping[str, list[float] | None] | None = None,
) -> list[RecalledMemory]:
    """Context for one companion turn: personal memories always (top 5), project memories when the
    message is about goals or plans (top 5), and task memories for recent context (top 3: the best
    matches, filled up with the most recently used). Personal first, then project, then task.
    ``embedded``: the message's embedding computed beforehand (``embed_texts(..., query=True)``)."""
    text = message.strip()[:MAX_QUERY_CHARS]
    if not text:
        return []
    now = datetime.now(UTC)
    vector = await _embed_one(embedder, text, embedded)
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
                score, parts = _breakdown(Candidate(memory, None, []), [], now)
                matches.append(RecalledMemory(memory, score, {**parts, "strategy": "recent"}))
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
) -> Memory:
    """Apply a partial update (content, tier, metadata, goal_id); new content is re-embedded."""
    # Embedded before the first statement when there is none yet (see ``remember``).
    given = clean_content(changes["content"]) if changes.get("content") is not None else None
    embedded = None
    if given is not None and not session.in_transaction():
        embedded = {given: await _embed_one(embedder, given)}
    memory = await get_memory(session, user_id=user_id, memory_id=memory_id)
    tier = parse_tier(changes["tier"]) if changes.get("tier") is not None else memory.tier
    content = clean_content(changes["content"]) if changes.get("content") is not None else memory.content
    digest = content_hash(content)
    if (tier, digest) != (memory.tier, memory.content_hash):
        clash = await repository.get_by_hash(session, user_id, tier, digest)
        if clash is not None and clash.id != memory.id:
            raise Conflict("An identical memory already exists in that tier", details={"id": str(clash.id)})
    if content != memory.content:
        vector = await _embed_one(embedder, content, embedded)
        memory.embedding = vector
        memory.embedding_model = embedder.model_name if vector is not None else None
        if vector is None:
            embed_pending_memories.defer(session)
    memory.tier, memory.content, memory.content_hash = tier, content, digest
    if "metadata" in changes and changes["metadata"] is not None:
        memory.meta = _check_metadata(changes["metadata"])
    if "goal_id" in changes:
        memory.goal_id = changes["goal_id"]
    memory.updated_at = datetime.now(UTC)
    await session.flush()
    return memory


async def delete_memory(session: AsyncSession, *, user_id: uuid.UUID, memory_id: uuid.UUID) -> None:
    if not await repository.delete_memory(session, user_id, memory_id):
        raise NotFound("Memory not found")
