"""Streaks, the Essence ledger and daily progress snapshots (docs/goals.md)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, StrEnumType, TimestampMixin, one_of, owner_id, uuid_pk
from app.models.enums import EssenceReason, ValueCategory

# A streak is kept overall and per value category.
STREAK_CATEGORIES = ("overall", *ValueCategory)


class Streak(TimestampMixin, Base):
    """One row per user and category ("overall" or a value category)."""

    __tablename__ = "streaks"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_id()
    category: Mapped[str] = mapped_column(String(16), nullable=False)
    current_length: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    longest_length: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    last_active_on: Mapped[date | None] = mapped_column(Date)
    # Milestones (7, 14, ...) already reported during the current run; cleared when it breaks.
    milestones_reported: Mapped[list[int]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )

    __table_args__ = (
        CheckConstraint(one_of("category", STREAK_CATEGORIES), name="category"),
        UniqueConstraint("user_id", "category"),
    )


class EssenceTransaction(Base):
    """Every Essence award; the user's balance (users.essence_balance) is their sum."""

    __tablename__ = "essence_transactions"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_id()
    mission_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("missions.id", ondelete="SET NULL"), index=True
    )
    amount: Mapped[int] = mapped_column(Integer, nullable=False)
    reason: Mapped[EssenceReason] = mapped_column(StrEnumType(EssenceReason, 32), nullable=False)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    local_date: Mapped[date] = mapped_column(Date, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )

    __table_args__ = (
        CheckConstraint(one_of("reason", EssenceReason), name="reason"),
        CheckConstraint("amount > 0", name="amount"),
        Index("ix_essence_transactions_user_id_local_date", "user_id", "local_date"),
    )


class DailyProgress(TimestampMixin, Base):
    """The nightly snapshot of one local day: what was done and the DCI with its terms."""

    __tablename__ = "daily_progress"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_id()
    local_date: Mapped[date] = mapped_column(Date, nullable=False)
    missions_completed: Mapped[int] = mapped_column(Integer, nullable=False)
    minutes_completed: Mapped[int] = mapped_column(Integer, nullable=False)
    essence_earned: Mapped[int] = mapped_column(Integer, nullable=False)
    streak_length: Mapped[int] = mapped_column(Integer, nullable=False)
    active_days: Mapped[int] = mapped_column(Integer, nullable=False)
    completion_rate: Mapped[float] = mapped_column(Float, nullable=False)
    engagement_depth: Mapped[float] = mapped_column(Float, nullable=False)
    nudge_response: Mapped[float] = mapped_column(Float, nullable=False)
    dci: Mapped[float] = mapped_column(Float, nullable=False)

    __table_args__ = (UniqueConstraint("user_id", "local_date"),)
