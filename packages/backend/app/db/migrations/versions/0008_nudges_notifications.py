"""nudges and notifications: per-user activity and sequence state, the notification outbox

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "'dropoff', 'streak_risk', 'triad_ready'"
CHANNELS = "'in_app', 'email', 'sms', 'push'"
STATES = "'pending', 'sent', 'failed', 'suppressed'"
REASONS = (
    "'quiet_hours', 'cap', 'opted_out', 'user_returned', 'superseded', 'no_address', 'channel_unavailable'"
)
SOURCES = "'template', 'model'"

# Existing users start from their latest sign of intent. A sequence that would already be over
# (7 days or more ago) is not replayed at deploy time: those users hear from Delight when they return.
BACKFILL = """
INSERT INTO nudge_states (user_id, last_active_at, sequence_step, next_check_at)
SELECT id, last_active,
       CASE WHEN last_active <= now() - interval '7 days' THEN 3 ELSE 0 END,
       CASE WHEN last_active <= now() - interval '7 days' THEN NULL ELSE last_active + interval '48 hours' END
FROM (
    SELECT u.id, GREATEST(
        u.created_at,
        (SELECT max(m.created_at) FROM conversation_messages m WHERE m.user_id = u.id AND m.role = 'user'),
        (SELECT max(e.occurred_at) FROM mission_events e WHERE e.user_id = u.id),
        (SELECT max(g.updated_at) FROM goals g WHERE g.user_id = u.id)
    ) AS last_active
    FROM users u
) AS latest
"""


def upgrade() -> None:
    op.create_table(
        "nudge_states",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sequence_step", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("sequence_step BETWEEN 0 AND 3", name=op.f("ck_nudge_states_sequence_step")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_nudge_states_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_nudge_states")),
    )
    op.create_index(
        "ix_nudge_states_next_check_at",
        "nudge_states",
        ["next_check_at"],
        postgresql_where=sa.text("next_check_at IS NOT NULL"),
    )

    op.create_table(
        "notifications",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("step", sa.SmallInteger(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("content_source", sa.String(length=16), server_default="template", nullable=False),
        sa.Column(
            "context",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("sequence_anchor", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dismissed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f("ck_notifications_kind")),
        sa.CheckConstraint(f"channel IN ({CHANNELS})", name=op.f("ck_notifications_channel")),
        sa.CheckConstraint(f"state IN ({STATES})", name=op.f("ck_notifications_state")),
        sa.CheckConstraint(f"reason IN ({REASONS})", name=op.f("ck_notifications_reason")),
        sa.CheckConstraint(f"content_source IN ({SOURCES})", name=op.f("ck_notifications_content_source")),
        sa.CheckConstraint(
            "(state = 'suppressed') = (reason IS NOT NULL)", name=op.f("ck_notifications_suppressed_reason")
        ),
        sa.CheckConstraint("step BETWEEN 0 AND 3", name=op.f("ck_notifications_step")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notifications_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("user_id", "kind", "step", "local_date", name=op.f("uq_notifications_user_id")),
    )
    op.create_index(
        "ix_notifications_next_attempt_at",
        "notifications",
        ["next_attempt_at"],
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index(
        "ix_notifications_user_id_sent_at",
        "notifications",
        ["user_id", "sent_at", "id"],
        postgresql_where=sa.text("state = 'sent'"),
    )
    op.create_index("ix_notifications_user_id_local_date", "notifications", ["user_id", "local_date"])

    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("nudge_states")
