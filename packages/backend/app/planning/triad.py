"""The daily triad: three missions labelled high / medium / low priority.

``priority = 0.4·importance + 0.3·urgency + 0.2·energy_match + 0.1·value_diversity``, every
factor in [0, 1]:

- importance = (goal importance − 1) / 4;
- urgency = 0.6·deadline + 0.4·neglect, where deadline = 1 − days_left/60 (1 when the target date
  is today or past; 0.25 without a target date) and neglect = days since the goal was last worked
  on (a mission started or completed; else since it was created) / 7, capped at 1;
- energy_match = 1 − |mission energy − current energy| / 2 on low=0, medium=1, high=2; current
  energy is, in order: ``?energy=`` (stated), the companion's emotional state if updated in the
  last 12 hours, the mood of the latest session in the last 12 hours (energized → high, happy or
  calm → medium, thoughtful or mixed → low), else medium;
- value_diversity = 1 / (1 + n), n = missions of the same category completed today plus those
  already picked for this triad (so the three tend to span categories).

Missions are picked greedily (highest priority first, ties by age); the first is ``high``, the
second ``medium``, the third ``low``. Eligible: pending or in-progress missions of active goals
(deferred missions come back on their day). The selection is stored per user and local date and
served unchanged all day; it is recomputed only when one of its missions stops being eligible
(completed, deferred, abandoned, archived) or when it had fewer than three and more became
eligible.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import local_date
from app.kit.numbers import clamp
from app.models import DailyTriad, Goal, Mission, User
from app.models.enums import EnergyLevel
from app.planning.repository import goals
from app.planning.repository import missions as repository
from app.planning.rules import ENERGY_RANK
from app.planning.schemas.missions import MissionOut, TriadEntry, TriadFactors, TriadOut

WEIGHTS: Final = {"importance": 0.4, "urgency": 0.3, "energy_match": 0.2, "value_diversity": 0.1}
SLOTS: Final = ("high", "medium", "low")
DEADLINE_HORIZON_DAYS: Final = 60
NO_DEADLINE: Final = 0.25
NEGLECT_FULL_DAYS: Final = 7
STATE_FRESHNESS: Final = timedelta(hours=12)
MOOD_ENERGY: Final = {
    "energized": "high",
    "happy": "medium",
    "calm": "medium",
    "thoughtful": "low",
    "mixed": "low",
}


def importance(goal: Goal) -> float:
    return clamp((goal.importance - 1) / 4)


def urgency(goal: Goal, today: date, now: datetime) -> float:
    if goal.target_date is None:
        deadline = NO_DEADLINE
    else:
        days_left = (goal.target_date - today).days
        deadline = 1.0 if days_left <= 0 else clamp(1 - days_left / DEADLINE_HORIZON_DAYS)
    last = goal.last_worked_at or goal.created_at
    neglect = clamp((now - last).total_seconds() / 86400 / NEGLECT_FULL_DAYS)
    return 0.6 * deadline + 0.4 * neglect


def energy_match(level: str, current: str) -> float:
    return 1 - abs(ENERGY_RANK[EnergyLevel(level)] - ENERGY_RANK[EnergyLevel(current)]) / 2


def value_diversity(category: str, seen: Counter[str]) -> float:
    return 1 / (1 + seen[category])


@dataclass(frozen=True)
class Scored:
    mission: Mission
    priority: float
    factors: dict[str, float]


def score(
    mission: Mission, goal: Goal, *, today: date, now: datetime, energy: str, seen: Counter[str]
) -> Scored:
    factors = {
        "importance": importance(goal),
        "urgency": urgency(goal, today, now),
        "energy_match": energy_match(mission.energy_level, energy),
        "value_diversity": value_diversity(mission.value_category, seen),
    }
    factors = {name: round(value, 4) for name, value in factors.items()}
    priority = round(sum(WEIGHTS[name] * value for name, value in factors.items()), 4)
    return Scored(mission, priority, factors)


def select(
    candidates: list[tuple[Mission, Goal]],
    *,
    today: date,
    now: datetime,
    energy: str,
    completed_today: Counter[str],
) -> list[Scored]:
    """Greedy pick of up to three; each pick counts toward the next picks' diversity."""
    seen = Counter(completed_today)
    remaining = list(candidates)
    picked: list[Scored] = []
    while remaining and len(picked) < len(SLOTS):
        scored = [
            (score(mission, goal, today=today, now=now, energy=energy, seen=seen), index)
            for index, (mission, goal) in enumerate(remaining)
        ]
        best, index = min(
            scored,
            key=lambda item: (
                -item[0].priority,
                item[0].mission.created_at,
                item[0].mission.position,
                str(item[0].mission.id),
            ),
        )
        picked.append(best)
        seen[best.mission.value_category] += 1
        remaining.pop(index)
    return picked


async def current_energy(
    session: AsyncSession, user_id: uuid.UUID, stated: str | None, now: datetime
) -> tuple[str, str]:
    if stated is not None:
        return stated, "stated"
    since = now - STATE_FRESHNESS
    state = await repository.stated_energy(session, user_id, since)
    if state in ENERGY_RANK:
        return state, "emotional_state"
    mood = await repository.latest_mood(session, user_id, since)
    if mood in MOOD_ENERGY:
        return MOOD_ENERGY[mood], "mood"
    return "medium", "default"


async def _candidates(session: AsyncSession, user_id: uuid.UUID) -> list[tuple[Mission, Goal]]:
    return [(row[0], row[1]) for row in await repository.triad_candidates(session, user_id)]


async def get_triad(
    session: AsyncSession, user: User, now: datetime, stated_energy: str | None = None
) -> TriadOut:
    """The day's triad. Serving the stored one is plain reads; rows are locked only to write.

    Computing it writes mission rows (due deferred missions are reactivated, the picks' priority
    scores saved), so it follows the lock order (docs/goals.md): the goals of every mission it may
    write are locked first, all at once in id order, and the missions read again under the locks.
    """
    today = local_date(now, user.timezone)
    due = await repository.due_goal_ids(session, user.id, today)
    stored = await repository.get_triad(session, user.id, today)
    candidates = await _candidates(session, user.id)
    if not due and stored is not None and _still_valid(stored.slots, {m.id for m, _ in candidates}):
        return await _stored_out(session, user, today, stored)

    locked = set(await goals.lock_goals(session, user.id, due | {goal.id for _, goal in candidates}))
    await repository.reactivate_due(session, user.id, today, now, locked)
    # Read again under the locks: a goal archived meanwhile has taken its missions with it. A goal
    # that got its first eligible mission since the first read was not locked: left for the next one.
    candidates = [(m, g) for m, g in await _candidates(session, user.id) if g.id in locked]
    stored = await repository.get_triad(session, user.id, today)  # a concurrent request's, maybe
    if stored is not None and _still_valid(stored.slots, {m.id for m, _ in candidates}):
        return await _stored_out(session, user, today, stored)

    energy, source = await current_energy(session, user.id, stated_energy, now)
    completed_today = await repository.completed_categories(session, user.id, today)
    picked = select(candidates, today=today, now=now, energy=energy, completed_today=completed_today)
    slots = [
        {"slot": slot, "mission_id": str(item.mission.id), "priority": item.priority, "factors": item.factors}
        for slot, item in zip(SLOTS, picked, strict=False)
    ]
    for item in picked:
        item.mission.priority_score = item.priority
    await session.flush()
    for item in picked:
        await session.refresh(item.mission)
    await repository.save_triad(
        session,
        user.id,
        today,
        slots=slots,
        energy=energy,
        energy_source=source,
        now=now,
        refresh=stored is not None,
    )
    refresh_count = stored.refresh_count + 1 if stored is not None else 0
    missions = {item.mission.id: item.mission for item in picked}
    return _out(user, today, slots, missions, energy, source, now, refresh_count)


async def _stored_out(session: AsyncSession, user: User, today: date, stored: DailyTriad) -> TriadOut:
    missions = await repository.get_missions(
        session, user.id, [_uuid(slot["mission_id"]) for slot in stored.slots]
    )
    return _out(
        user,
        today,
        stored.slots,
        missions,
        stored.energy,
        stored.energy_source,
        stored.computed_at,
        stored.refresh_count,
    )


def _uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)


def _still_valid(slots: list[dict[str, Any]], eligible: set[uuid.UUID]) -> bool:
    ids = {_uuid(slot["mission_id"]) for slot in slots}
    if not ids <= eligible:
        return False  # a mission was completed, deferred, abandoned or archived: refresh
    return len(ids) == len(SLOTS) or len(eligible) <= len(ids)


def _out(
    user: User,
    today: date,
    slots: list[dict[str, Any]],
    missions: dict[uuid.UUID, Mission],
    energy: str,
    source: str,
    computed_at: datetime,
    refresh_count: int,
) -> TriadOut:
    entries = [
        TriadEntry(
            slot=slot["slot"],
            priority=slot["priority"],
            factors=TriadFactors(**slot["factors"]),
            mission=MissionOut.model_validate(missions[_uuid(slot["mission_id"])]),
        )
        for slot in slots
        if _uuid(slot["mission_id"]) in missions
    ]
    note = None
    if len(entries) < len(SLOTS):
        note = (
            "No missions are available today: add missions or decompose a goal."
            if not entries
            else f"Only {len(entries)} mission{'s are' if len(entries) > 1 else ' is'} available today."
        )
    return TriadOut(
        date=today,
        timezone=user.timezone,
        energy=energy,
        energy_source=source,
        missions=entries,
        note=note,
        computed_at=computed_at,
        refresh_count=refresh_count,
    )
