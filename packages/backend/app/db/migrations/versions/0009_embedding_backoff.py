"""memories: embedding failures and retry time, so the backfill isolates a memory the provider rejects

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # On the partitioned parent: PostgreSQL adds the columns to every partition. A constant default
    # is a metadata-only change (no table rewrite).
    op.add_column(
        "memories", sa.Column("embedding_failures", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("memories", sa.Column("embedding_retry_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("memories", "embedding_retry_at")
    op.drop_column("memories", "embedding_failures")
