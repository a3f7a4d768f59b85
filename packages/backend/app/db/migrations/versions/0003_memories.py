"""memories: three-tier companion memory with pgvector embeddings and full-text search

The embedding column's size is EMBEDDING_DIMENSIONS (environment or .env; default 384, the local
all-MiniLM-L6-v2 model) at the time this migration runs. Changing the size later needs a new
migration that alters the column (and rebuilds the HNSW index) followed by
`delight memory reembed`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_DIMENSIONS = 384
PARTITIONS = 16  # app.models.memory.PARTITIONS
PARTITION_SCHEMA = "memory_partitions"


def _dimensions() -> int:
    raw = os.environ.get("EMBEDDING_DIMENSIONS")
    if raw is None:
        from dotenv import dotenv_values  # noqa: PLC0415 - only needed without the variable

        raw = dotenv_values(".env").get("EMBEDDING_DIMENSIONS")
    dimensions = int(raw) if raw else DEFAULT_DIMENSIONS
    if not 1 <= dimensions <= 2000:  # pgvector's HNSW limit for vector columns
        raise SystemExit(f"EMBEDDING_DIMENSIONS={dimensions} must be between 1 and 2000")
    return dimensions


def upgrade() -> None:
    tier = postgresql.ENUM("personal", "project", "task", name="memory_tier", create_type=False)
    tier.create(op.get_bind(), checkfirst=False)
    op.create_table(
        "memories",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("tier", tier, nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("embedding", Vector(_dimensions()), nullable=True),
        sa.Column("embedding_model", sa.String(length=200), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("goal_id", sa.UUID(), nullable=True),
        sa.Column("conversation_id", sa.UUID(), nullable=True),
        sa.Column("access_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("accessed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "content_tsv",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('english'::regconfig, content)", persisted=True),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_memories_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", "user_id", name=op.f("pk_memories")),
        sa.UniqueConstraint("user_id", "tier", "content_hash", name="uq_memories_user_id_tier_content_hash"),
        postgresql_partition_by="HASH (user_id)",
    )
    # Hash partitions by user: a user's vector search filters one partition's HNSW index (pgvector
    # filters after the index scan, so the user's share of the scanned rows matters). Room on every
    # page (fillfactor) lets access-stat updates be HOT updates, which add no index entries.
    # The partitions live in their own schema: they are storage, not part of the model.
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {PARTITION_SCHEMA}")
    for remainder in range(PARTITIONS):
        op.execute(
            f"CREATE TABLE {PARTITION_SCHEMA}.memories_p{remainder:02d} PARTITION OF memories "
            f"FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {remainder}) WITH (fillfactor = 85)"
        )
    op.create_index("ix_memories_user_id_created_at", "memories", ["user_id", "created_at", "id"])
    op.create_index(
        "ix_memories_user_id_goal_id",
        "memories",
        ["user_id", "goal_id"],
        postgresql_where=sa.text("goal_id IS NOT NULL"),
    )
    op.create_index(
        "ix_memories_task_created_at", "memories", ["created_at"], postgresql_where=sa.text("tier = 'task'")
    )
    op.create_index(
        "ix_memories_unembedded", "memories", ["created_at"], postgresql_where=sa.text("embedding IS NULL")
    )
    op.create_index(
        "ix_memories_embedding_hnsw",
        "memories",
        ["embedding"],
        postgresql_using="hnsw",
        postgresql_with={"m": 16, "ef_construction": 64},
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.create_index("ix_memories_content_tsv", "memories", ["content_tsv"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_table("memories")  # drops its partitions and indexes too
    op.execute(f"DROP SCHEMA IF EXISTS {PARTITION_SCHEMA}")
    op.execute("DROP TYPE IF EXISTS memory_tier")
