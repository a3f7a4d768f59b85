"""Request and response bodies for missions, sessions and the daily triad."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.kit.pagination import Page
from app.models.enums import EnergyLevel, MissionStatus, Mood, TriadSlot, ValueCategory
from app.planning.schemas.goals import (
    Absent,
    Description,
    MilestoneOut,
    Minutes,
    ProposalOut,
    Title,
    reject_nulls,
)
from app.planning.schemas.progress import EssenceAwardOut, StreakMilestoneOut, StreakOut

LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]


class MissionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    goal_id: uuid.UUID
    title: Title
    description: Description = ""
    estimated_minutes: Minutes
    energy_level: EnergyLevel
    # Defaults to the goal's category.
    value_category: ValueCategory | None = None
    milestone_id: uuid.UUID | None = None


class MissionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title | Absent = None
    description: Description | Absent = None
    estimated_minutes: Minutes | Absent = None
    energy_level: EnergyLevel | Absent = None
    value_category: ValueCategory | Absent = None
    milestone_id: uuid.UUID | None = None
    # Only "pending": brings a deferred mission back before its day. Other changes of status have
    # their own endpoints (start, complete, defer, abandon).
    status: Literal["pending"] | Absent = None

    @model_validator(mode="after")
    def _nulls(self) -> MissionUpdate:
        reject_nulls(self, {"milestone_id"})
        return self


class MissionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    goal_id: uuid.UUID
    milestone_id: uuid.UUID | None
    title: str
    description: str
    estimated_minutes: int
    energy_level: EnergyLevel
    value_category: ValueCategory
    status: MissionStatus
    priority_score: float | None
    essence_reward: int
    source: str
    deferred_until: date | None
    completed_at: datetime | None
    completed_on: date | None
    created_at: datetime
    updated_at: datetime


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    mission_id: uuid.UUID
    started_at: datetime
    ended_at: datetime | None
    actual_minutes: int | None
    notes: str | None
    reflection: str | None
    mood: Mood | None
    outcome: str | None


class MissionDetailOut(MissionOut):
    sessions: list[SessionOut]


class MissionPage(Page[MissionOut]):
    pass


class ApprovalOut(BaseModel):
    """What approving a decomposition proposal saved."""

    proposal: ProposalOut
    milestones: list[MilestoneOut]
    missions: list[MissionOut]


# --- actions ------------------------------------------------------------------------------


class StartOut(BaseModel):
    mission: MissionOut
    session: SessionOut


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Defaults to the minutes since the session started (at least 1, at most 240).
    actual_minutes: Annotated[int, Field(ge=1, le=600, strict=True)] | None = None
    notes: LongText | None = None
    reflection: LongText | None = None
    mood: Mood | None = None


class MilestoneReachedOut(BaseModel):
    id: uuid.UUID
    title: str


class CompletionOut(BaseModel):
    mission: MissionOut
    session: SessionOut
    essence_earned: int
    essence_awards: list[EssenceAwardOut]
    essence_balance: int
    streaks: list[StreakOut]
    # Streak milestones (7/14/30/100/365 days) this completion reached, each reported once.
    streak_milestones: list[StreakMilestoneOut]
    # The goal milestone this completion finished, if any.
    milestone_reached: MilestoneReachedOut | None


class DeferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Defaults to tomorrow (the user's local date); at most 30 days ahead.
    until: date | None = None
    notes: LongText | None = None


class AbandonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notes: LongText | None = None


class ActionOut(BaseModel):
    mission: MissionOut
    session: SessionOut | None


# --- triad --------------------------------------------------------------------------------


class TriadFactors(BaseModel):
    importance: float
    urgency: float
    energy_match: float
    value_diversity: float


class TriadEntry(BaseModel):
    slot: TriadSlot
    priority: float
    factors: TriadFactors
    mission: MissionOut


class TriadOut(BaseModel):
    date: date
    timezone: str
    energy: EnergyLevel
    # stated (?energy=), emotional_state (the companion's latest reading), mood (the latest
    # session's mood) or default.
    energy_source: str
    missions: list[TriadEntry]
    note: str | None
    computed_at: datetime
    refresh_count: int
