"""Request and response bodies for the memories API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.memory.service import MAX_CONTENT_CHARS, MAX_SOURCE_CHARS, RecalledMemory
from app.models import Memory, MemoryTier


class MemoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tier: MemoryTier
    content: str = Field(min_length=1, max_length=MAX_CONTENT_CHARS * 2)
    source: str = Field(
        default="api", min_length=1, max_length=MAX_SOURCE_CHARS, pattern=r"^[A-Za-z0-9_.:-]+$"
    )
    metadata: dict[str, Any] = Field(default_factory=dict)
    goal_id: uuid.UUID | None = None
    conversation_id: uuid.UUID | None = None

    @field_validator("content")
    @classmethod
    def _content(cls, value: str) -> str:
        stripped = value.strip()
        if not stripped:
            raise ValueError("must not be empty or blank")
        if len(stripped) > MAX_CONTENT_CHARS:
            raise ValueError(f"must be at most {MAX_CONTENT_CHARS} characters")
        return stripped


class MemoryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tier: MemoryTier | None = None
    content: str | None = Field(default=None, min_length=1, max_length=MAX_CONTENT_CHARS * 2)
    metadata: dict[str, Any] | None = None
    goal_id: uuid.UUID | None = None

    @field_validator("content")
    @classmethod
    def _content(cls, value: str | None) -> str | None:
        if value is None:
            return None
        stripped = value.strip()
        if not stripped:
            raise ValueError("must not be empty or blank")
        if len(stripped) > MAX_CONTENT_CHARS:
            raise ValueError(f"must be at most {MAX_CONTENT_CHARS} characters")
        return stripped


class MemoryOut(BaseModel):
    id: uuid.UUID
    tier: MemoryTier
    content: str
    source: str
    metadata: dict[str, Any]
    goal_id: uuid.UUID | None
    conversation_id: uuid.UUID | None
    embedded: bool
    embedding_model: str | None
    access_count: int
    created_at: datetime
    updated_at: datetime
    accessed_at: datetime
    archived_at: datetime | None

    @classmethod
    def of(cls, memory: Memory) -> MemoryOut:
        return cls(
            id=memory.id,
            tier=memory.tier,
            content=memory.content,
            source=memory.source,
            metadata=memory.meta,
            goal_id=memory.goal_id,
            conversation_id=memory.conversation_id,
            embedded=memory.embedding_model is not None,
            embedding_model=memory.embedding_model,
            access_count=memory.access_count,
            created_at=memory.created_at,
            updated_at=memory.updated_at,
            accessed_at=memory.accessed_at,
            archived_at=memory.archived_at,
        )


class RememberOut(MemoryOut):
    created: bool = Field(description="false: an existing exact or near-duplicate memory was refreshed")


class MemoryPage(BaseModel):
    items: list[MemoryOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last")


class ScoreBreakdown(BaseModel):
    similarity: float | None = Field(description="cosine similarity in [0, 1]; null without an embedding")
    dense_rank: int | None = Field(description="rank among the dense (embedding) candidates; null: not one")
    lexical: float = Field(description="BM25 score relative to the query's best lexical match, in [0, 1]")
    bm25: float = Field(description="BM25 score of the memory for the query's terms (0: no term found)")
    lexical_rank: int | None = Field(description="rank among the lexical (BM25) candidates; null: not one")
    coverage: float = Field(description="share of the query's idf-weighted search terms in the memory")
    relevance: float = Field(description="fusion of the two rankings, in [0, 1] (docs/memory.md)")
    recency: float = Field(description="2^(-days since last access / tier half-life)")
    frequency: float = Field(description="log(1 + accesses) / log(21), capped at 1")
    score: float = Field(description="0.94·relevance + 0.04·recency + 0.02·frequency")
    strategy: str | None = Field(default=None, description="'recent': filled in as recent context")


class SearchHit(BaseModel):
    memory: MemoryOut
    score: float
    breakdown: ScoreBreakdown

    @classmethod
    def of(cls, hit: RecalledMemory) -> SearchHit:
        return cls(
            memory=MemoryOut.of(hit.memory), score=hit.score, breakdown=ScoreBreakdown(**hit.breakdown)
        )


class SearchResults(BaseModel):
    query: str
    results: list[SearchHit]
