"""Missions: the status machine, sessions, completion rewards, the orchestrator's top-up, export.

Status machine (``app/missions/rules.py``; illegal transitions answer 409 ``illegal_transition``):

    start       pending | deferred              → in_progress   (opens a session)
    complete    in_progress                     → completed     (closes it; Essence, streaks)
    defer       pending | in_progress           → deferred      (until a local date)
    abandon     pending | in_progress | deferred → archived
    reactivate  deferred                        → pending       (PATCH, or on the deferred-to day)

``completed`` and ``archived`` are final.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, NotFound, ValidationFailed
from app.goals import repository as goals
from app.goals.memory import GoalMemory
from app.goals.planner import GoalBrief, continuation
from app.kit.clock import local_date
from app.missions import repository
from app.missions.rules import ENERGY_RANK, essence_reward, next_status
from app.missions.schemas import (
    AbandonIn,
    ActionOut,
    CompleteIn,
    CompletionOut,
    DeferIn,
    MilestoneReachedOut,
    MissionCreate,
    MissionDetailOut,
    MissionOut,
    MissionUpdate,
    SessionOut,
)
from app.models import Goal, Mission, MissionSession, User
from app.progress import service as progress
from app.users.data import export_section

MAX_DEFER_DAYS: Final = 30
MAX_DEFAULT_MINUTES: Final = 240


async def get_mission(
    session: AsyncSession, user: User, mission_id: uuid.UUID, *, for_update: bool = False
) -> Mission:
    mission = await repository.get_mission(session, user.id, mission_id, for_update=for_update)
    if mission is None:
        raise NotFound("Mission not found")
    return mission


async def lock_mission(session: AsyncSession, user: User, mission_id: uuid.UUID) -> Mission:
    """The mission, locked for a change, after its goal's row.

    Lock order is always goal, then mission: archiving a goal locks the goal row and then its open
    missions (``archive_open_missions``), and completing a mission touches its goal
    (``last_worked_at``). Locking the mission first here would let the two wait on each other —
    a PostgreSQL deadlock, one of them aborted. The goal of a mission never changes, so reading
    it without a lock first is safe; the mission is then reloaded under its lock.
    """
    mission = await get_mission(session, user, mission_id)
    await goals.get_goal(session, user.id, mission.goal_id, for_update=True)
    return await get_mission(session, user, mission_id, for_update=True)


async def _open_goal(session: AsyncSession, user: User, goal_id: uuid.UUID) -> Goal:
    # Locked: a goal being archived meanwhile cannot get a new open mission after its archival.
    goal = await goals.get_goal(session, user.id, goal_id, for_update=True)
    if goal is None:
        raise NotFound("Goal not found")
    if goal.status in ("completed", "archived"):
        raise Conflict(f"the goal is {goal.status}", code="goal_not_open", details={"status": goal.status})
    return goal


async def _check_milestone(
    session: AsyncSession, user: User, goal_id: uuid.UUID, milestone_id: uuid.UUID
) -> None:
    milestone = await goals.get_milestone(session, user.id, milestone_id)
    if milestone is None or milestone.goal_id != goal_id:
        raise ValidationFailed(
            "milestone_id is not a milestone of the mission's goal",
            details=[{"field": "milestone_id", "message": "not a milestone of this goal"}],
        )


async def create_mission(session: AsyncSession, user: User, data: MissionCreate) -> Mission:
    goal = await _open_goal(session, user, data.goal_id)
    if data.milestone_id is not None:
        await _check_milestone(session, user, goal.id, data.milestone_id)
    [mission] = await repository.insert_missions(
        session,
        [
            {
                "user_id": user.id,
                "goal_id": goal.id,
                "milestone_id": data.milestone_id,
                "title": data.title,
                "description": data.description,
                "estimated_minutes": data.estimated_minutes,
                "energy_level": data.energy_level,
                "value_category": data.value_category or goal.value_category,
                "essence_reward": essence_reward(data.estimated_minutes, data.energy_level),
                "position": await repository.next_position(session, user.id, goal.id),
                "source": "manual",
            }
        ],
    )
    return mission


async def update_mission(
    session: AsyncSession, user: User, mission_id: uuid.UUID, changes: MissionUpdate, now: datetime
) -> Mission:
    mission = await lock_mission(session, user, mission_id)
    if mission.status in ("completed", "archived"):
        raise Conflict(f"a {mission.status} mission cannot be changed", code="mission_closed")
    data = changes.model_dump(exclude_unset=True)
    if data.pop("status", None) == "pending" and mission.status != "pending":
        mission.status = next_status(mission.status, "reactivate")
        mission.deferred_until = None
        await repository.add_event(
            session, user.id, mission.id, "reactivated", local_date(now, user.timezone), now
        )
    if data.get("milestone_id") is not None:
        await _check_milestone(session, user, mission.goal_id, data["milestone_id"])
    for field, value in data.items():
        setattr(mission, field, value)
    mission.essence_reward = essence_reward(mission.estimated_minutes, mission.energy_level)
    await session.flush()
    await session.refresh(mission)
    return mission


async def detail(session: AsyncSession, user: User, mission: Mission) -> MissionDetailOut:
    rows = await repository.sessions_of(session, user.id, mission.id)
    return MissionDetailOut(
        **MissionOut.model_validate(mission).model_dump(),
        sessions=[SessionOut.model_validate(row) for row in rows],
    )


# --- actions ------------------------------------------------------------------------------


async def start(
    session: AsyncSession, user: User, mission_id: uuid.UUID, now: datetime
) -> tuple[Mission, MissionSession]:
    mission = await lock_mission(session, user, mission_id)
    target = next_status(mission.status, "start")
    goal = await goals.get_goal(session, user.id, mission.goal_id)
    if goal is None or goal.status != "active":
        status = goal.status if goal else "missing"
        raise Conflict(f"the goal is {status}: resume it to start its missions", code="goal_not_active")
    mission.status = target
    mission.deferred_until = None
    row = await repository.insert_session(
        session, {"user_id": user.id, "mission_id": mission.id, "started_at": now}
    )
    await repository.add_event(session, user.id, mission.id, "started", local_date(now, user.timezone), now)
    await goals.touch_goal(session, user.id, mission.goal_id, now)
    await session.flush()
    await session.refresh(mission)
    return mission, row


def _elapsed_minutes(row: MissionSession, now: datetime) -> int:
    minutes = math.ceil((now - row.started_at).total_seconds() / 60)
    return max(1, min(MAX_DEFAULT_MINUTES, minutes))


async def _close_session(
    session: AsyncSession,
    mission: Mission,
    now: datetime,
    outcome: str,
    *,
    notes: str | None = None,
    reflection: str | None = None,
    mood: str | None = None,
    actual_minutes: int | None = None,
) -> MissionSession | None:
    row = await repository.open_session(session, mission.id)
    if row is None:
        return None
    row.ended_at = now
    row.outcome = outcome
    row.actual_minutes = actual_minutes or _elapsed_minutes(row, now)
    row.notes, row.reflection, row.mood = notes, reflection, mood
    await session.flush()
    return row


async def complete(
    session: AsyncSession,
    user: User,
    mission_id: uuid.UUID,
    body: CompleteIn,
    now: datetime,
    memory: GoalMemory,
) -> CompletionOut:
    mission = await lock_mission(session, user, mission_id)
    mission.status = next_status(mission.status, "complete")
    day = local_date(now, user.timezone)
    row = await _close_session(
        session,
        mission,
        now,
        "completed",
        notes=body.notes,
        reflection=body.reflection,
        mood=body.mood,
        actual_minutes=body.actual_minutes,
    )
    if row is None:  # in_progress always has an open session; be robust to hand-edited data
        row = await repository.insert_session(
            session,
            {
                "user_id": user.id,
                "mission_id": mission.id,
                "started_at": now,
                "ended_at": now,
                "outcome": "completed",
                "actual_minutes": body.actual_minutes or mission.estimated_minutes,
                "notes": body.notes,
                "reflection": body.reflection,
                "mood": body.mood,
            },
        )
    mission.completed_at = now
    mission.completed_on = day
    await session.flush()
    await repository.add_event(session, user.id, mission.id, "completed", day, now)
    await goals.touch_goal(session, user.id, mission.goal_id, now)

    rewards = await progress.reward_completion(session, user.id, mission, day)
    reached = None
    if mission.milestone_id is not None:
        milestone = await goals.mark_milestone_reached(session, user.id, mission.milestone_id, now)
        if milestone is not None:
            award, rewards.balance = await progress.reward_goal_milestone(
                session, user.id, milestone, mission.id, day
            )
            rewards.awards.append(award)
            reached = MilestoneReachedOut(id=milestone.id, title=milestone.title)

    await memory.session_notes(session, mission, row)
    await memory.reflection(session, mission, row)
    await session.refresh(mission)
    return CompletionOut(
        mission=MissionOut.model_validate(mission),
        session=SessionOut.model_validate(row),
        essence_earned=rewards.earned,
        essence_awards=rewards.awards,
        essence_balance=rewards.balance,
        streaks=rewards.streaks,
        streak_milestones=rewards.streak_milestones,
        milestone_reached=reached,
    )


def _defer_date(requested: date | None, today: date) -> date:
    if requested is None:
        return today + timedelta(days=1)
    if not today < requested <= today + timedelta(days=MAX_DEFER_DAYS):
        raise ValidationFailed(
            "until must be after today and at most 30 days ahead",
            details=[
                {
                    "field": "until",
                    "message": f"must be between {today + timedelta(days=1)} and "
                    f"{today + timedelta(days=MAX_DEFER_DAYS)} (your local dates)",
                }
            ],
        )
    return requested


async def defer(
    session: AsyncSession, user: User, mission_id: uuid.UUID, body: DeferIn, now: datetime, memory: GoalMemory
) -> ActionOut:
    mission = await lock_mission(session, user, mission_id)
    target = next_status(mission.status, "defer")
    today = local_date(now, user.timezone)
    until = _defer_date(body.until, today)
    row = await _close_session(session, mission, now, "deferred", notes=body.notes)
    mission.status = target
    mission.deferred_until = until
    await session.flush()
    await repository.add_event(session, user.id, mission.id, "deferred", today, now)
    if row is not None:
        await memory.session_notes(session, mission, row)
    await session.refresh(mission)
    return ActionOut(
        mission=MissionOut.model_validate(mission), session=SessionOut.model_validate(row) if row else None
    )


async def abandon(
    session: AsyncSession,
    user: User,
    mission_id: uuid.UUID,
    body: AbandonIn,
    now: datetime,
    memory: GoalMemory,
) -> ActionOut:
    mission = await lock_mission(session, user, mission_id)
    target = next_status(mission.status, "abandon")
    row = await _close_session(session, mission, now, "abandoned", notes=body.notes)
    mission.status = target
    mission.deferred_until = None
    await session.flush()
    await repository.add_event(session, user.id, mission.id, "abandoned", local_date(now, user.timezone), now)
    if row is not None:
        await memory.session_notes(session, mission, row)
    await session.refresh(mission)
    return ActionOut(
        mission=MissionOut.model_validate(mission), session=SessionOut.model_validate(row) if row else None
    )


# --- orchestration ------------------------------------------------------------------------


def brief_of(goal: Goal) -> GoalBrief:
    return GoalBrief(
        title=goal.title,
        description=goal.description,
        goal_type=goal.goal_type,
        value_category=goal.value_category,
        importance=goal.importance,
        target_date=goal.target_date,
    )


async def top_up_goal(session: AsyncSession, goal: Goal, target: int) -> int:
    """Generate missions until the goal has ``target`` pending ones; returns how many were added.

    The goal's row is locked first, so concurrent top-ups of one goal take turns and the second
    counts what the first added. Generated missions are also keyed ``topup-<n>`` (n counts the
    goal's generated missions) under a unique (goal_id, generation_key) constraint: a duplicate
    is never stored even if the lock were bypassed.
    """
    if await goals.get_goal(session, goal.user_id, goal.id, for_update=True) is None:
        return 0
    need = target - await repository.count_pending(session, goal.user_id, goal.id)
    if need <= 0:
        return 0
    first = await repository.count_generated(session, goal.user_id, goal.id)
    position = await repository.next_position(session, goal.user_id, goal.id)
    brief = brief_of(goal)
    rows: list[dict[str, Any]] = []
    for offset in range(need):
        draft = continuation(brief, first + offset)
        rows.append(
            {
                "user_id": goal.user_id,
                "goal_id": goal.id,
                "title": draft.title,
                "description": draft.description,
                "estimated_minutes": draft.estimated_minutes,
                "energy_level": draft.energy_level,
                "value_category": goal.value_category,
                "essence_reward": essence_reward(draft.estimated_minutes, draft.energy_level),
                "position": position + offset,
                "source": "orchestrator",
                "generation_key": f"topup-{first + offset}",
            }
        )
    return await repository.insert_generated_missions(session, rows)


async def due_goal_ids(session: AsyncSession, user: User, today: date) -> set[uuid.UUID]:
    return await repository.due_goal_ids(session, user.id, today)


async def reactivate_due(
    session: AsyncSession, user: User, today: date, now: datetime, locked_goal_ids: Collection[uuid.UUID]
) -> int:
    """Reactivate the due deferred missions of goals whose rows the caller has locked."""
    return len(await repository.reactivate_due(session, user.id, today, now, locked_goal_ids))


@export_section("missions")
async def _export_missions(session: AsyncSession, user_id: Any) -> dict[str, Any]:
    return {
        "missions": [
            {
                **MissionOut.model_validate(row).model_dump(mode="json"),
                "generation_key": row.generation_key,
            }
            for row in await repository.all_missions(session, user_id)
        ],
        "sessions": [
            SessionOut.model_validate(row).model_dump(mode="json")
            for row in await repository.all_sessions(session, user_id)
        ],
        "events": [
            {
                "mission_id": str(row.mission_id),
                "kind": row.kind,
                "local_date": row.local_date.isoformat(),
                "occurred_at": row.occurred_at.isoformat(),
            }
            for row in await repository.all_events(session, user_id)
        ],
        "daily_triads": [
            {
                "local_date": row.local_date.isoformat(),
                "slots": row.slots,
                "offered_mission_ids": sorted(set(row.offered_mission_ids)),
                "energy": row.energy,
                "energy_source": row.energy_source,
                "refresh_count": row.refresh_count,
                "computed_at": row.computed_at.isoformat(),
            }
            for row in await repository.all_triads(session, user_id)
        ],
    }


# --- the companion's view -----------------------------------------------------------------

COMPANION_GOALS: Final = 3
COMPANION_MISSIONS: Final = 3


@dataclass(frozen=True)
class GoalSummary:
    title: str
    category: str
    target_date: date | None


@dataclass(frozen=True)
class MissionSummary:
    title: str
    minutes: int
    energy: str
    goal: str  # the goal's title
    slot: str | None = None  # the triad slot (high | medium | low) when it is in today's triad


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
            triad.append(replace(found[1], slot=slot["slot"]))
    missions = triad or [summary for _, summary in list(open_missions.values())[:COMPANION_MISSIONS]]
    pending = [(m, s) for m, s in open_missions.values() if m.status == "pending"]
    small = min(
        pending or open_missions.values(),
        key=lambda item: (item[1].minutes, ENERGY_RANK[item[1].energy]),
        default=None,
    )
    micro = min(
        (item for item in pending if item[1].energy == "low"), key=lambda item: item[1].minutes, default=None
    )
    return CompanionGoalContext(
        goals=tuple(list(goals.values())[:COMPANION_GOALS]),
        missions=tuple(missions),
        from_triad=bool(triad),
        streak=streak,
        small_win=small[1] if small else None,
        micro_task=micro[1] if micro else None,
    )
