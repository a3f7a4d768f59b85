"""Request and response bodies for goals and their decomposition."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.json_schema import SkipJsonSchema

from app.kit.pagination import Page
from app.models.enums import EnergyLevel, GoalStatus, GoalType, ProposalSource, ProposalStatus, ValueCategory

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
Importance = Annotated[int, Field(ge=1, le=5, strict=True)]
# Missions a user writes or edits; generated ones are held to 10–30 minutes (app/goals/plans.py).
Minutes = Annotated[int, Field(ge=5, le=120, strict=True)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=16, pattern=r"^[a-z0-9-]+$")]


# "May be left out, may not be null" in a PATCH body: ``None`` stays the Python default, and the
# OpenAPI schema does not offer null (``reject_nulls`` refuses an explicit one).
Absent = SkipJsonSchema[None]


def reject_nulls(model: BaseModel, nullable: set[str]) -> None:
    """PATCH bodies: an explicit ``null`` is only allowed for fields that can be cleared."""
    bad = sorted(name for name in model.model_fields_set - nullable if getattr(model, name) is None)
    if bad:
        raise ValueError(f"{', '.join(bad)} cannot be null")


class GoalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description = ""
    goal_type: GoalType
    value_category: ValueCategory
    target_date: date | None = None
    importance: Importance = 3


class GoalUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title | Absent = None
    description: Description | Absent = None
    goal_type: GoalType | Absent = None
    value_category: ValueCategory | Absent = None
    target_date: date | None = None
    status: GoalStatus | Absent = None
    importance: Importance | Absent = None

    @model_validator(mode="after")
    def _nulls(self) -> GoalUpdate:
        reject_nulls(self, {"target_date"})
        return self


class GoalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    description: str
    goal_type: GoalType
    value_category: ValueCategory
    target_date: date | None
    status: GoalStatus
    importance: int
    last_worked_at: datetime | None
    completed_at: datetime | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime


class MilestoneOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    goal_id: uuid.UUID
    position: int
    title: str
    description: str
    reached_at: datetime | None
    created_at: datetime


class GoalDetailOut(GoalOut):
    milestones: list[MilestoneOut]
    mission_counts: dict[str, int]


class GoalPage(Page[GoalOut]):
    pass


# --- decomposition ------------------------------------------------------------------------


class PlanMission(BaseModel):
    key: str
    title: str
    description: str
    estimated_minutes: int
    energy_level: EnergyLevel


class PlanMilestone(BaseModel):
    key: str
    title: str
    description: str
    missions: list[PlanMission]


class Plan(BaseModel):
    """A validated plan: what a proposal stores (``payload``) and shows."""

    milestones: list[PlanMilestone]
    rationale: str = ""
    # Deterministic fixes applied to a model's answer (e.g. minutes clamped to 10–30).
    repairs: list[str] = Field(default_factory=list)


class ProposalOut(BaseModel):
    id: uuid.UUID
    goal_id: uuid.UUID
    status: ProposalStatus
    source: ProposalSource
    model: str | None
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    milestone_count: int
    mission_count: int
    total_minutes: int
    plan: Plan


class MissionEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Key
    title: Title | Absent = None
    description: Description | Absent = None
    estimated_minutes: Minutes | Absent = None
    energy_level: EnergyLevel | Absent = None

    @model_validator(mode="after")
    def _nulls(self) -> MissionEdit:
        reject_nulls(self, set())
        return self


class MilestoneEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Key
    title: Title | Absent = None
    description: Description | Absent = None

    @model_validator(mode="after")
    def _nulls(self) -> MilestoneEdit:
        reject_nulls(self, set())
        return self


class ApprovalIn(BaseModel):
    """Optional changes to a proposal, applied as it is saved."""

    model_config = ConfigDict(extra="forbid")

    remove_missions: list[Key] = Field(default_factory=list, max_length=20)
    mission_edits: list[MissionEdit] = Field(default_factory=list, max_length=20)
    milestone_edits: list[MilestoneEdit] = Field(default_factory=list, max_length=7)
