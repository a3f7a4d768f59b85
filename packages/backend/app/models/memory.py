"""Companion memories: three tiers of facts about a user, each with an optional embedding."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    Computed,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, TimestampMixin, uuid_pk

# The text-search configuration of the lexical component (stemmed English, stop words dropped).
TSV_EXPRESSION = "to_tsvector('english'::regconfig, content)"
# The table is hash-partitioned by user (migration 0003 creates the partitions): a user's vector
# search then filters one partition's HNSW index, where the user's share of rows is large.
PARTITIONS = 16
PARTITION_SCHEMA = "memory_partitions"


class MemoryTier(enum.StrEnum):
    personal = "personal"  # identity, preferences, emotional patterns, stressors: never pruned
    project = "project"  # goals, plans, progress: kept while the goal lives
    task = "task"  # missions, exchanges, recent actions: pruned after the retention window


class Memory(TimestampMixin, Base):
    __tablename__ = "memories"

    id: Mapped[uuid.UUID] = uuid_pk()
    # Part of the primary key because PostgreSQL requires the partition key in unique constraints.
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    tier: Mapped[MemoryTier] = mapped_column(
        Enum(MemoryTier, name="memory_tier", values_callable=lambda e: [m.value for m in e]), nullable=False
    )
    content: Mapped[str] = mapped_column(Text, nullable=False)
    # sha256 of the normalised content (case-folded, whitespace collapsed): exact de-duplication.
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    # The column's size is fixed by migration 0003 (EMBEDDING_DIMENSIONS); NULL until embedded.
    embedding: Mapped[list[float] | None] = mapped_column(Vector())
    embedding_model: Mapped[str | None] = mapped_column(String(200))
    # One embedding per sentence when the content has several (app/memory/sentences.py): '{}' for a
    # single sentence, NULL until computed. Written and read in SQL only (deferred, never loaded).
    sentence_embeddings: Mapped[Any] = mapped_column(ARRAY(Vector()), nullable=True, deferred=True)
    # The backfill's failed attempts at this memory alone, and when it may try again (backing off),
    # so one text the provider always rejects does not hold up everyone else's (migration 0009).
    embedding_failures: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    embedding_retry_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    meta: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    # No foreign keys: goals and conversations are other domains' tables (later migrations);
    # archiving a goal goes through app.memory.service.archive_goal_memories.
    goal_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    access_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    accessed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    # Set when the memory's goal is archived: left out of recall, removed by the prune job later.
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    content_tsv: Mapped[Any] = mapped_column(TSVECTOR, Computed(TSV_EXPRESSION, persisted=True))

    __table_args__ = (
        UniqueConstraint("user_id", "tier", "content_hash", name="uq_memories_user_id_tier_content_hash"),
        Index("ix_memories_user_id_created_at", "user_id", "created_at", "id"),
        Index(
            "ix_memories_user_id_goal_id", "user_id", "goal_id", postgresql_where=text("goal_id IS NOT NULL")
        ),
        Index("ix_memories_task_created_at", "created_at", postgresql_where=text("tier = 'task'")),
        Index("ix_memories_unembedded", "created_at", postgresql_where=text("embedding IS NULL")),
        Index(
            "ix_memories_embedding_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_with={"m": 16, "ef_construction": 64},
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
        Index("ix_memories_content_tsv", "content_tsv", postgresql_using="gin"),
        {"postgresql_partition_by": "HASH (user_id)"},
    )
