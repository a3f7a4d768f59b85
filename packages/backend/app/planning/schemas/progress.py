"""Response bodies for progress: streaks, Essence, daily progress and the DCI."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict


class StreakOut(BaseModel):
    category: str
    current: int
    longest: int
    last_active_on: date | None


class StreakMilestoneOut(BaseModel):
    category: str
    days: int


class EssenceAwardOut(BaseModel):
    reason: str
    amount: int
    detail: dict[str, Any] = {}


class SnapshotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    local_date: date
    missions_completed: int
    minutes_completed: int
    essence_earned: int
    streak_length: int
    active_days: int
    completion_rate: float
    engagement_depth: float
    nudge_response: float
    dci: float


class DailyOut(BaseModel):
    date: date
    timezone: str
    missions_completed: int
    minutes_completed: int
    categories_completed: dict[str, int]
    essence_earned: int
    essence_balance: int
    streaks: list[StreakOut]
    # The nightly snapshot of this day, once the day is over and the job has run.
    snapshot: SnapshotOut | None


class DciTermsOut(BaseModel):
    streak: int
    streak_term: float
    completion_rate: float
    engagement_depth: float
    nudge_response: float
    counts: dict[str, int]


class DciPoint(BaseModel):
    date: date
    dci: float


class DciOut(BaseModel):
    days: int
    start: date
    end: date
    available: bool
    active_days: int
    required_active_days: int
    dci: float | None
    terms: DciTermsOut | None
    message: str | None
    weights: dict[str, float]
    # Nightly snapshots in the window (each over the 7 days ending that day).
    history: list[DciPoint]
