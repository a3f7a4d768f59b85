"""memories.sentence_embeddings: one embedding per sentence of multi-sentence memories

Adds a nullable ``vector(N)[]`` column (N: the size of ``memories.embedding``, read from the
catalogue). Adding a nullable column rewrites no row, so this is instant on any table size; the
values come from new writes and from `delight memory reembed`, and search treats NULL as "no
sentence embeddings" (whole-text similarity) meanwhile.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    vector_type = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = 'memories'::regclass AND attname = 'embedding'"
            )
        )
        .scalar_one()
    )
    op.execute(f"ALTER TABLE memories ADD COLUMN sentence_embeddings {vector_type}[]")


def downgrade() -> None:
    op.drop_column("memories", "sentence_embeddings")
