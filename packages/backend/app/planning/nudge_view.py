"""What nudges may say about many users' plans at once (the sweep works in batches): the main
active goal, the smallest next mission, the mission heading today's triad, the overall streak.

Read only and never locking: the sweep holds its own rows' locks while it reads, and taking the
planning domain's locks there could deadlock with a request that completes a mission.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.models.enums import MissionStatus
from app.planning.repository import nudges as repository
from app.planning.rules import ELIGIBLE_STATUSES


@dataclass(frozen=True)
class MissionBrief:
    id: uuid.UUID
    title: str
    minutes: int


@dataclass(frozen=True)
class PlanHighlights:
    goal_id: uuid.UUID | None = None
    goal: str | None = None  # the goal of ``smallest``, else the most important active goal
    smallest: MissionBrief | None = None  # the shortest open mission of an active goal
    first: MissionBrief | None = None  # today's triad's first mission, else the top open mission
    streak: int = 0  # the overall streak as of the user's today


@dataclass(frozen=True)
class StreakStanding:
    user_id: uuid.UUID
    length: int
    last_active_on: date


async def plan_highlights(
    session: AsyncSession, today: Mapping[uuid.UUID, date]
) -> dict[uuid.UUID, PlanHighlights]:
    """For each user (mapped to their local today), what a note may name. Five queries per batch."""
    user_ids = list(today)
    if not user_ids:
        return {}
    goals = {row.user_id: (row.id, row.title) for row in await repository.main_goals(session, user_ids)}
    smallest = {row.user_id: row for row in await repository.smallest_missions(session, user_ids)}
    top = {
        row.user_id: MissionBrief(row.id, row.title, row.estimated_minutes)
        for row in await repository.top_missions(session, user_ids)
    }
    firsts = await _triad_firsts(session, today)
    streaks = {row.user_id: row for row in await repository.overall_streaks(session, user_ids=user_ids)}
    found: dict[uuid.UUID, PlanHighlights] = {}
    for user_id, day in today.items():
        small = smallest.get(user_id)
        goal_id, goal = (small.goal_id, small.goal_title) if small else goals.get(user_id, (None, None))
        row = streaks.get(user_id)
        alive = (
            row is not None
            and row.last_active_on is not None
            and row.last_active_on >= day - timedelta(days=1)
        )
        found[user_id] = PlanHighlights(
            goal_id=goal_id,
            goal=goal,
            smallest=MissionBrief(small.id, small.title, small.estimated_minutes) if small else None,
            first=firsts.get(user_id) or top.get(user_id),
            streak=row.current_length if row is not None and alive else 0,
        )
    return found


async def _triad_firsts(
    session: AsyncSession, today: Mapping[uuid.UUID, date]
) -> dict[uuid.UUID, MissionBrief]:
    """The first still-open mission of each user's stored triad for their today."""
    rows = await repository.triads_on(session, list(today), sorted(set(today.values())))
    wanted: dict[uuid.UUID, list[uuid.UUID]] = {}
    for row in rows:
        if today.get(row.user_id) == row.local_date:
            wanted[row.user_id] = [uuid.UUID(slot["mission_id"]) for slot in row.slots]
    if not wanted:
        return {}
    missions = {
        row.id: row
        for row in await repository.missions_by_id(session, [m for ids in wanted.values() for m in ids])
    }
    firsts: dict[uuid.UUID, MissionBrief] = {}
    for user_id, mission_ids in wanted.items():
        for mission_id in mission_ids:
            mission = missions.get(mission_id)
            if (
                mission is not None
                and mission.user_id == user_id
                and MissionStatus(mission.status) in ELIGIBLE_STATUSES
            ):
                firsts[user_id] = MissionBrief(mission.id, mission.title, mission.estimated_minutes)
                break
    return firsts


async def streak_standings(
    session: AsyncSession, active_since: date, min_length: int, user_id: uuid.UUID | None = None
) -> list[StreakStanding]:
    """Users whose overall streak is at least ``min_length`` and was last extended on or after
    ``active_since`` (the sweep then decides, per user's local day, whether it is at risk)."""
    rows = await repository.overall_streaks(
        session,
        user_ids=[user_id] if user_id is not None else None,
        active_since=active_since,
        min_length=min_length,
    )
    return [StreakStanding(row.user_id, row.current_length, row.last_active_on) for row in rows]
