"""goals, milestones, decomposition proposals, missions, sessions, events, triads, streaks,
the Essence ledger and balance, daily progress snapshots

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CATEGORIES = "'health', 'craft', 'growth', 'connection'"


def _id() -> sa.Column:
    return sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False)


def _owner(table: str) -> list[Any]:
    return [
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
        ),
    ]


def _timestamps(updated: bool = True) -> list[sa.Column]:
    columns = [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)
    ]
    if updated:
        columns.append(
            sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)
        )
    return columns


def _jsonb(name: str, default: str | None = None) -> sa.Column:
    return sa.Column(
        name,
        postgresql.JSONB(astext_type=sa.Text()),
        server_default=sa.text(default) if default else None,
        nullable=False,
    )


def upgrade() -> None:
    op.add_column("users", sa.Column("essence_balance", sa.Integer(), server_default="0", nullable=False))

    op.create_table(
        "goals",
        _id(),
        *_owner("goals"),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("goal_type", sa.String(length=16), nullable=False),
        sa.Column("value_category", sa.String(length=16), nullable=False),
        sa.Column("target_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("importance", sa.SmallInteger(), server_default="3", nullable=False),
        sa.Column("last_worked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("memory_id", sa.UUID(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint("goal_type IN ('abstract', 'concrete')", name=op.f("ck_goals_goal_type")),
        sa.CheckConstraint(f"value_category IN ({CATEGORIES})", name=op.f("ck_goals_value_category")),
        sa.CheckConstraint(
            "status IN ('active', 'paused', 'completed', 'archived')", name=op.f("ck_goals_status")
        ),
        sa.CheckConstraint("importance BETWEEN 1 AND 5", name=op.f("ck_goals_importance")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goals")),
    )
    op.create_index("ix_goals_user_id_status", "goals", ["user_id", "status"])

    op.create_table(
        "goal_milestones",
        _id(),
        *_owner("goal_milestones"),
        sa.Column("goal_id", sa.UUID(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("reached_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(updated=False),
        sa.ForeignKeyConstraint(
            ["goal_id"], ["goals.id"], name=op.f("fk_goal_milestones_goal_id_goals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goal_milestones")),
    )
    op.create_index(op.f("ix_goal_milestones_goal_id"), "goal_milestones", ["goal_id"])
    op.create_index("ix_goal_milestones_user_id", "goal_milestones", ["user_id"])

    op.create_table(
        "decomposition_proposals",
        _id(),
        *_owner("decomposition_proposals"),
        sa.Column("goal_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="proposed", nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        _jsonb("payload"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "status IN ('proposed', 'approved', 'rejected', 'expired')",
            name=op.f("ck_decomposition_proposals_status"),
        ),
        sa.CheckConstraint("source IN ('model', 'planner')", name=op.f("ck_decomposition_proposals_source")),
        sa.ForeignKeyConstraint(
            ["goal_id"],
            ["goals.id"],
            name=op.f("fk_decomposition_proposals_goal_id_goals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decomposition_proposals")),
    )
    op.create_index(
        "ix_decomposition_proposals_goal_id_status", "decomposition_proposals", ["goal_id", "status"]
    )
    op.create_index("ix_decomposition_proposals_user_id", "decomposition_proposals", ["user_id"])

    op.create_table(
        "missions",
        _id(),
        *_owner("missions"),
        sa.Column("goal_id", sa.UUID(), nullable=False),
        sa.Column("milestone_id", sa.UUID(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("estimated_minutes", sa.SmallInteger(), nullable=False),
        sa.Column("energy_level", sa.String(length=8), nullable=False),
        sa.Column("value_category", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("priority_score", sa.Float(), nullable=True),
        sa.Column("essence_reward", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column("source", sa.String(length=16), server_default="manual", nullable=False),
        sa.Column("generation_key", sa.String(length=64), nullable=True),
        sa.Column("deferred_until", sa.Date(), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_on", sa.Date(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "status IN ('pending', 'in_progress', 'completed', 'deferred', 'archived')",
            name=op.f("ck_missions_status"),
        ),
        sa.CheckConstraint(
            "energy_level IN ('low', 'medium', 'high')", name=op.f("ck_missions_energy_level")
        ),
        sa.CheckConstraint(f"value_category IN ({CATEGORIES})", name=op.f("ck_missions_value_category")),
        sa.CheckConstraint(
            "source IN ('decomposition', 'manual', 'orchestrator')", name=op.f("ck_missions_source")
        ),
        sa.CheckConstraint("estimated_minutes BETWEEN 1 AND 240", name=op.f("ck_missions_estimated_minutes")),
        sa.CheckConstraint("essence_reward >= 0", name=op.f("ck_missions_essence_reward")),
        sa.ForeignKeyConstraint(
            ["goal_id"], ["goals.id"], name=op.f("fk_missions_goal_id_goals"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["milestone_id"],
            ["goal_milestones.id"],
            name=op.f("fk_missions_milestone_id_goal_milestones"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_missions")),
        # NULL keys (manual and decomposition missions) never collide.
        sa.UniqueConstraint("goal_id", "generation_key", name=op.f("uq_missions_goal_id")),
    )
    op.create_index("ix_missions_user_id_status", "missions", ["user_id", "status"])
    op.create_index("ix_missions_goal_id_status", "missions", ["goal_id", "status"])
    op.create_index("ix_missions_user_id_completed_on", "missions", ["user_id", "completed_on"])
    op.create_index(op.f("ix_missions_milestone_id"), "missions", ["milestone_id"])

    op.create_table(
        "mission_sessions",
        _id(),
        *_owner("mission_sessions"),
        sa.Column("mission_id", sa.UUID(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actual_minutes", sa.SmallInteger(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("reflection", sa.Text(), nullable=True),
        sa.Column("mood", sa.String(length=16), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "mood IN ('happy', 'calm', 'energized', 'thoughtful', 'mixed')",
            name=op.f("ck_mission_sessions_mood"),
        ),
        sa.CheckConstraint(
            "outcome IN ('completed', 'deferred', 'abandoned')", name=op.f("ck_mission_sessions_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["mission_id"],
            ["missions.id"],
            name=op.f("fk_mission_sessions_mission_id_missions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mission_sessions")),
    )
    op.create_index(op.f("ix_mission_sessions_user_id"), "mission_sessions", ["user_id"])
    op.create_index("ix_mission_sessions_mission_id", "mission_sessions", ["mission_id", "started_at"])
    op.create_index(
        "uq_mission_sessions_open",
        "mission_sessions",
        ["mission_id"],
        unique=True,
        postgresql_where=sa.text("ended_at IS NULL"),
    )

    op.create_table(
        "mission_events",
        _id(),
        *_owner("mission_events"),
        sa.Column("mission_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('started', 'completed', 'deferred', 'abandoned', 'reactivated')",
            name=op.f("ck_mission_events_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["mission_id"],
            ["missions.id"],
            name=op.f("fk_mission_events_mission_id_missions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mission_events")),
    )
    op.create_index(op.f("ix_mission_events_mission_id"), "mission_events", ["mission_id"])
    op.create_index("ix_mission_events_user_id_local_date", "mission_events", ["user_id", "local_date"])

    op.create_table(
        "daily_triads",
        _id(),
        *_owner("daily_triads"),
        sa.Column("local_date", sa.Date(), nullable=False),
        _jsonb("slots"),
        _jsonb("offered_mission_ids", "'[]'::jsonb"),
        sa.Column("energy", sa.String(length=8), nullable=False),
        sa.Column("energy_source", sa.String(length=16), nullable=False),
        sa.Column("refresh_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daily_triads")),
        sa.UniqueConstraint("user_id", "local_date", name=op.f("uq_daily_triads_user_id")),
    )

    op.create_table(
        "streaks",
        _id(),
        *_owner("streaks"),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("current_length", sa.Integer(), server_default="0", nullable=False),
        sa.Column("longest_length", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_active_on", sa.Date(), nullable=True),
        _jsonb("milestones_reported", "'[]'::jsonb"),
        *_timestamps(),
        sa.CheckConstraint(f"category IN ('overall', {CATEGORIES})", name=op.f("ck_streaks_category")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_streaks")),
        sa.UniqueConstraint("user_id", "category", name=op.f("uq_streaks_user_id")),
    )

    op.create_table(
        "essence_transactions",
        _id(),
        *_owner("essence_transactions"),
        sa.Column("mission_id", sa.UUID(), nullable=True),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        _jsonb("detail", "'{}'::jsonb"),
        sa.Column("local_date", sa.Date(), nullable=False),
        *_timestamps(updated=False),
        sa.CheckConstraint(
            "reason IN ('mission', 'streak_milestone', 'goal_milestone')",
            name=op.f("ck_essence_transactions_reason"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_essence_transactions_amount")),
        sa.ForeignKeyConstraint(
            ["mission_id"],
            ["missions.id"],
            name=op.f("fk_essence_transactions_mission_id_missions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_essence_transactions")),
    )
    op.create_index(op.f("ix_essence_transactions_mission_id"), "essence_transactions", ["mission_id"])
    op.create_index(
        "ix_essence_transactions_user_id_local_date", "essence_transactions", ["user_id", "local_date"]
    )

    op.create_table(
        "daily_progress",
        _id(),
        *_owner("daily_progress"),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("missions_completed", sa.Integer(), nullable=False),
        sa.Column("minutes_completed", sa.Integer(), nullable=False),
        sa.Column("essence_earned", sa.Integer(), nullable=False),
        sa.Column("streak_length", sa.Integer(), nullable=False),
        sa.Column("active_days", sa.Integer(), nullable=False),
        sa.Column("completion_rate", sa.Float(), nullable=False),
        sa.Column("engagement_depth", sa.Float(), nullable=False),
        sa.Column("nudge_response", sa.Float(), nullable=False),
        sa.Column("dci", sa.Float(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daily_progress")),
        sa.UniqueConstraint("user_id", "local_date", name=op.f("uq_daily_progress_user_id")),
    )


def downgrade() -> None:
    for table in (
        "daily_progress",
        "essence_transactions",
        "streaks",
        "daily_triads",
        "mission_events",
        "mission_sessions",
        "missions",
        "decomposition_proposals",
        "goal_milestones",
        "goals",
    ):
        op.drop_table(table)
    op.drop_column("users", "essence_balance")
