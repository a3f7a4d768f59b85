"""What the companion may say about the user's plans: active goals, today's missions, the streak.

Read-only and scoped to one user; it never computes a triad (only a stored one is used).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Final, cast

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import local_date
from app.models import Mission
from app.models.enums import EnergyLevel, MissionStatus, TriadSlot, ValueCategory
from app.planning.repository import missions as repository
from app.planning.rules import ENERGY_RANK

COMPANION_GOALS: Final = 3
COMPANION_MISSIONS: Final = 3


@dataclass(frozen=True)
class GoalSummary:
    title: str
    category: ValueCategory
    target_date: date | None


@dataclass(frozen=True)
class MissionSummary:
    title: str
    minutes: int
    energy: EnergyLevel
    goal: str  # the goal's title
    slot: TriadSlot | None = None  # the triad slot (high | medium | low) when it is in today's triad


@dataclass(frozen=True)
class CompanionGoalContext:
    """What Eliza may say about the user's goals and missions (read-only, one user's data)."""

    goals: tuple[GoalSummary, ...] = ()
    # Today's triad in slot order when one is stored, else the next open missions by priority.
    missions: tuple[MissionSummary, ...] = ()
    from_triad: bool = False
    streak: int = 0  # the overall streak as of today
    small_win: MissionSummary | None = None  # the shortest open mission (low energy first on ties)
    micro_task: MissionSummary | None = None  # the shortest pending low-energy mission

    @property
    def top_mission(self) -> MissionSummary | None:
        return self.missions[0] if self.missions else None


async def companion_context(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> CompanionGoalContext:
    """The user's active goals, today's triad (or next open missions) and current streak, for the
    companion. Two queries, both scoped to ``user_id``; it reads and never writes (the triad is
    not computed here: only a stored one is used)."""
    day_rows = await repository.companion_day(session, user_id, now.astimezone(UTC).date())
    if not day_rows:
        return CompanionGoalContext()
    today = local_date(now, day_rows[0].timezone)
    length, last_active = day_rows[0].current_length, day_rows[0].last_active_on
    streak = (length or 0) if last_active is not None and last_active >= today - timedelta(days=1) else 0
    slots = next((row.slots for row in day_rows if row.local_date == today and row.slots), None) or []

    goals: dict[uuid.UUID, GoalSummary] = {}
    open_missions: dict[uuid.UUID, tuple[Mission, MissionSummary]] = {}
    for row in await repository.companion_missions(session, user_id):
        goal, mission = row[0], cast(Mission | None, row[1])  # None: an active goal without open missions
        goals.setdefault(goal.id, GoalSummary(goal.title, goal.value_category, goal.target_date))
        if mission is not None:
            summary = MissionSummary(
                mission.title, mission.estimated_minutes, mission.energy_level, goal.title
            )
            open_missions[mission.id] = (mission, summary)

    triad = []
    for slot in slots:
        found = open_missions.get(uuid.UUID(slot["mission_id"]))
        if found is not None:
            triad.append(replace(found[1], slot=TriadSlot(slot["slot"])))
    missions = triad or [summary for _, summary in list(open_missions.values())[:COMPANION_MISSIONS]]
    pending = [(m, s) for m, s in open_missions.values() if m.status == MissionStatus.pending]
    small = min(
        pending or open_missions.values(),
        key=lambda item: (item[1].minutes, ENERGY_RANK[item[1].energy]),
        default=None,
    )
    micro = min(
        (item for item in pending if item[1].energy == EnergyLevel.low),
        key=lambda item: item[1].minutes,
        default=None,
    )
    return CompanionGoalContext(
        goals=tuple(list(goals.values())[:COMPANION_GOALS]),
        missions=tuple(missions),
        from_triad=bool(triad),
        streak=streak,
        small_win=small[1] if small else None,
        micro_task=micro[1] if micro else None,
    )
