"""at most one reply in flight per conversation: a partial unique index on pending replies;
idempotency keys on user messages

Replies left pending side by side by the old check-then-insert race are settled first: all but
the newest pending reply of a conversation become ``failed`` (interrupted), as the sweeper would
have settled them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INTERRUPTED = "The reply was interrupted. Please send your message again."


def upgrade() -> None:
    op.execute(
        sa.text(
            """
            UPDATE conversation_messages AS older
            SET status = 'failed',
                metadata = older.metadata || jsonb_build_object('error', CAST(:error AS text)),
                updated_at = now()
            WHERE older.role = 'assistant' AND older.status = 'pending'
              AND EXISTS (
                  SELECT 1 FROM conversation_messages AS newer
                  WHERE newer.conversation_id = older.conversation_id
                    AND newer.role = 'assistant' AND newer.status = 'pending'
                    AND newer.seq > older.seq
              )
            """
        ).bindparams(error=INTERRUPTED)
    )
    op.create_index(
        "uq_conversation_messages_one_in_flight",
        "conversation_messages",
        ["conversation_id"],
        unique=True,
        postgresql_where=sa.text("role = 'assistant' AND status = 'pending'"),
    )
    op.add_column("conversation_messages", sa.Column("idempotency_key", sa.String(length=200), nullable=True))
    op.create_index(
        "uq_conversation_messages_user_id_idempotency_key",
        "conversation_messages",
        ["user_id", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_conversation_messages_user_id_idempotency_key", table_name="conversation_messages")
    op.drop_column("conversation_messages", "idempotency_key")
    op.drop_index("uq_conversation_messages_one_in_flight", table_name="conversation_messages")
