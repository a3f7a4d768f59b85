"""Goals, their milestones and decomposition proposals (docs/goals.md)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, StrEnumType, TimestampMixin, one_of, owner_id, uuid_pk
from app.models.enums import GoalStatus, GoalType, ProposalSource, ProposalStatus, ValueCategory


class Goal(TimestampMixin, Base):
    __tablename__ = "goals"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_id()
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    goal_type: Mapped[GoalType] = mapped_column(StrEnumType(GoalType, 16), nullable=False)
    value_category: Mapped[ValueCategory] = mapped_column(StrEnumType(ValueCategory, 16), nullable=False)
    target_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[GoalStatus] = mapped_column(
        StrEnumType(GoalStatus, 16), nullable=False, server_default=GoalStatus.active.value
    )
    importance: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="3")
    # Last mission start or completion: feeds the triad's urgency ("time since last worked on").
    last_worked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The goal's project memory (app.memory), updated with the goal. No foreign key: the user may
    # delete the memory through the memory API, and then the next update writes a new one.
    memory_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))

    __table_args__ = (
        CheckConstraint(one_of("goal_type", GoalType), name="goal_type"),
        CheckConstraint(one_of("value_category", ValueCategory), name="value_category"),
        CheckConstraint(one_of("status", GoalStatus), name="status"),
        CheckConstraint("importance BETWEEN 1 AND 5", name="importance"),
        Index("ix_goals_user_id_status", "user_id", "status"),
    )


class GoalMilestone(Base):
    __tablename__ = "goal_milestones"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_id()
    goal_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("goals.id", ondelete="CASCADE"), nullable=False, index=True
    )
    position: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    # Set once, when the last open mission of the milestone is completed.
    reached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )

    __table_args__ = (Index("ix_goal_milestones_user_id", "user_id"),)


class DecompositionProposal(TimestampMixin, Base):
    """A proposed plan (milestones and missions) that is saved only when the user approves it."""

    __tablename__ = "decomposition_proposals"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_id()
    goal_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("goals.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[ProposalStatus] = mapped_column(
        StrEnumType(ProposalStatus, 16), nullable=False, server_default=ProposalStatus.proposed.value
    )
    source: Mapped[ProposalSource] = mapped_column(StrEnumType(ProposalSource, 16), nullable=False)
    model: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(one_of("status", ProposalStatus), name="status"),
        CheckConstraint(one_of("source", ProposalSource), name="source"),
        Index("ix_decomposition_proposals_goal_id_status", "goal_id", "status"),
        Index("ix_decomposition_proposals_user_id", "user_id"),
    )
