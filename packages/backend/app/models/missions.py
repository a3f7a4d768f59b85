"""Missions, the sessions spent on them, their event log and the daily triad (docs/goals.md)."""

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
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, StrEnumType, TimestampMixin, one_of, owner_id, uuid_pk
from app.models.enums import (
    EnergyLevel,
    MissionEventKind,
    MissionSource,
    MissionStatus,
    Mood,
    SessionOutcome,
    ValueCategory,
)


class Mission(TimestampMixin, Base):
    __tablename__ = "missions"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_id()
    goal_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("goals.id", ondelete="CASCADE"), nullable=False
    )
    milestone_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("goal_milestones.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    estimated_minutes: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    energy_level: Mapped[EnergyLevel] = mapped_column(StrEnumType(EnergyLevel, 8), nullable=False)
    value_category: Mapped[ValueCategory] = mapped_column(StrEnumType(ValueCategory, 16), nullable=False)
    status: Mapped[MissionStatus] = mapped_column(
        StrEnumType(MissionStatus, 16), nullable=False, server_default=MissionStatus.pending.value
    )
    # The score of the last triad computation that considered this mission (0–1).
    priority_score: Mapped[float | None] = mapped_column(Float)
    essence_reward: Mapped[int] = mapped_column(Integer, nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    source: Mapped[MissionSource] = mapped_column(
        StrEnumType(MissionSource, 16), nullable=False, server_default=MissionSource.manual.value
    )
    # Deterministic key of generated missions: makes the orchestrator's top-up idempotent.
    generation_key: Mapped[str | None] = mapped_column(String(64))
    deferred_until: Mapped[date | None] = mapped_column(Date)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The user's local date at completion: what streaks and daily progress count.
    completed_on: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (
        CheckConstraint(one_of("status", MissionStatus), name="status"),
        CheckConstraint(one_of("energy_level", EnergyLevel), name="energy_level"),
        CheckConstraint(one_of("value_category", ValueCategory), name="value_category"),
        CheckConstraint(one_of("source", MissionSource), name="source"),
        CheckConstraint("estimated_minutes BETWEEN 1 AND 240", name="estimated_minutes"),
        CheckConstraint("essence_reward >= 0", name="essence_reward"),
        UniqueConstraint("goal_id", "generation_key"),
        Index("ix_missions_user_id_status", "user_id", "status"),
        Index("ix_missions_goal_id_status", "goal_id", "status"),
        Index("ix_missions_user_id_completed_on", "user_id", "completed_on"),
    )


class MissionSession(TimestampMixin, Base):
    """One row per start of a mission: the time spent and what the user said about it."""

    __tablename__ = "mission_sessions"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_id(index=True)
    mission_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("missions.id", ondelete="CASCADE"), nullable=False
    )
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    actual_minutes: Mapped[int | None] = mapped_column(SmallInteger)
    notes: Mapped[str | None] = mapped_column(Text)
    reflection: Mapped[str | None] = mapped_column(Text)
    mood: Mapped[Mood | None] = mapped_column(StrEnumType(Mood, 16))
    outcome: Mapped[SessionOutcome | None] = mapped_column(StrEnumType(SessionOutcome, 16))

    __table_args__ = (
        CheckConstraint(one_of("mood", Mood), name="mood"),
        CheckConstraint(one_of("outcome", SessionOutcome), name="outcome"),
        Index("ix_mission_sessions_mission_id", "mission_id", "started_at"),
        # At most one open session per mission.
        Index(
            "uq_mission_sessions_open",
            "mission_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
    )


class MissionEvent(Base):
    """What the user did with a mission, on which local day: the data behind the DCI terms."""

    __tablename__ = "mission_events"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_id()
    mission_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("missions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[MissionEventKind] = mapped_column(StrEnumType(MissionEventKind, 16), nullable=False)
    local_date: Mapped[date] = mapped_column(Date, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (
        CheckConstraint(one_of("kind", MissionEventKind), name="kind"),
        Index("ix_mission_events_user_id_local_date", "user_id", "local_date"),
    )


class DailyTriad(TimestampMixin, Base):
    """The three missions offered on one local day; stable until one of them is done or deferred."""

    __tablename__ = "daily_triads"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_id()
    local_date: Mapped[date] = mapped_column(Date, nullable=False)
    # [{"slot": "high", "mission_id": "...", "priority": 0.7, "factors": {...}}, ...]
    slots: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    # Every mission offered that day, across refreshes.
    offered_mission_ids: Mapped[list[str]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    energy: Mapped[str] = mapped_column(String(8), nullable=False)
    energy_source: Mapped[str] = mapped_column(String(16), nullable=False)
    refresh_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    computed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )

    __table_args__ = (UniqueConstraint("user_id", "local_date"),)
