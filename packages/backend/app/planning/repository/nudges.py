"""Bulk reads for the nudges domain (through ``app.planning.nudge_view``): many users per query,
read only, never locking."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import DailyTriad, Goal, Mission, Streak
from app.models.enums import EnergyLevel, GoalStatus
from app.planning.rules import ELIGIBLE_STATUSES

_ENERGY_ORDER = case(
    (Mission.energy_level == EnergyLevel.low, 0), (Mission.energy_level == EnergyLevel.medium, 1), else_=2
)


async def smallest_missions(session: AsyncSession, user_ids: Sequence[uuid.UUID]) -> Sequence[Any]:
    """Per user, the shortest open mission of an active goal (low energy first on ties)."""
    query = (
        select(
            Mission.user_id,
            Mission.id,
            Mission.title,
            Mission.estimated_minutes,
            Goal.id.label("goal_id"),
            Goal.title.label("goal_title"),
        )
        .join(Goal, Goal.id == Mission.goal_id)
        .where(
            Mission.user_id.in_(user_ids),
            Mission.status.in_(ELIGIBLE_STATUSES),
            Goal.status == GoalStatus.active,
        )
        .order_by(Mission.user_id, Mission.estimated_minutes, _ENERGY_ORDER, Mission.created_at, Mission.id)
        .ext(distinct_on(Mission.user_id))
    )
    return (await session.execute(query)).all()


async def top_missions(session: AsyncSession, user_ids: Sequence[uuid.UUID]) -> Sequence[Any]:
    """Per user, the open mission most likely to head the triad (highest last priority score)."""
    query = (
        select(Mission.user_id, Mission.id, Mission.title, Mission.estimated_minutes)
        .join(Goal, Goal.id == Mission.goal_id)
        .where(
            Mission.user_id.in_(user_ids),
            Mission.status.in_(ELIGIBLE_STATUSES),
            Goal.status == GoalStatus.active,
        )
        .order_by(
            Mission.user_id,
            Goal.importance.desc(),
            Mission.priority_score.desc().nulls_last(),
            Mission.created_at,
            Mission.id,
        )
        .ext(distinct_on(Mission.user_id))
    )
    return (await session.execute(query)).all()


async def main_goals(session: AsyncSession, user_ids: Sequence[uuid.UUID]) -> Sequence[Any]:
    """Per user, the most important active goal."""
    query = (
        select(Goal.user_id, Goal.id, Goal.title)
        .where(Goal.user_id.in_(user_ids), Goal.status == GoalStatus.active)
        .order_by(Goal.user_id, Goal.importance.desc(), Goal.updated_at.desc(), Goal.id)
        .ext(distinct_on(Goal.user_id))
    )
    return (await session.execute(query)).all()


async def triads_on(
    session: AsyncSession, user_ids: Sequence[uuid.UUID], days: Sequence[date]
) -> Sequence[Any]:
    query = select(DailyTriad.user_id, DailyTriad.local_date, DailyTriad.slots).where(
        DailyTriad.user_id.in_(user_ids), DailyTriad.local_date.in_(days)
    )
    return (await session.execute(query)).all()


async def missions_by_id(session: AsyncSession, mission_ids: Sequence[uuid.UUID]) -> Sequence[Any]:
    query = select(
        Mission.id, Mission.user_id, Mission.title, Mission.estimated_minutes, Mission.status
    ).where(Mission.id.in_(mission_ids))
    return (await session.execute(query)).all()


async def overall_streaks(
    session: AsyncSession,
    *,
    user_ids: Sequence[uuid.UUID] | None = None,
    active_since: date | None = None,
    min_length: int = 0,
) -> Sequence[Any]:
    """(user_id, current_length, last_active_on) of overall streaks, for these users or for every
    user with a streak of ``min_length`` last active on or after ``active_since``."""
    query = select(Streak.user_id, Streak.current_length, Streak.last_active_on).where(
        Streak.category == "overall"
    )
    if user_ids is not None:
        query = query.where(Streak.user_id.in_(user_ids))
    if active_since is not None:
        query = query.where(Streak.last_active_on >= active_since)
    if min_length:
        query = query.where(Streak.current_length >= min_length)
    return (await session.execute(query)).all()
