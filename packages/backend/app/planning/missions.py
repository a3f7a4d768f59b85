"""Missions: the status machine, sessions, completion rewards, export.

Status machine (``app/planning/rules.py``; illegal transitions answer 409 ``illegal_transition``):

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
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, NotFound, invalid_field
from app.kit.clock import local_date
from app.models import Mission, MissionSession, User
from app.models.enums import GoalStatus, MissionEventKind, MissionSource, MissionStatus, Mood, SessionOutcome
from app.planning import progress
from app.planning.locks import check_mission_room, lock_mission, open_goal
from app.planning.memory import GoalMemory
from app.planning.repository import goals
from app.planning.repository import missions as repository
from app.planning.rules import CLOSED_STATUSES, essence_reward, mission_row, next_status
from app.planning.schemas.missions import (
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
from app.users import export_section

MAX_DEFER_DAYS: Final = 30
MAX_DEFAULT_MINUTES: Final = 240


async def get_mission(session: AsyncSession, user: User, mission_id: uuid.UUID) -> Mission:
    mission = await repository.get_mission(session, user.id, mission_id)
    if mission is None:
        raise NotFound("Mission not found")
    return mission


async def _check_milestone(
    session: AsyncSession, user: User, goal_id: uuid.UUID, milestone_id: uuid.UUID
) -> None:
    milestone = await goals.get_milestone(session, user.id, milestone_id)
    if milestone is None or milestone.goal_id != goal_id:
        raise invalid_field(
            "milestone_id",
            "not a milestone of this goal",
            summary="milestone_id is not a milestone of the mission's goal",
        )


async def create_mission(
    session: AsyncSession, user: User, data: MissionCreate, max_missions: int
) -> Mission:
    goal = await open_goal(session, user.id, data.goal_id)
    await check_mission_room(session, goal, 1, max_missions)
    if data.milestone_id is not None:
        await _check_milestone(session, user, goal.id, data.milestone_id)
    row = mission_row(
        goal,
        title=data.title,
        description=data.description,
        estimated_minutes=data.estimated_minutes,
        energy_level=data.energy_level,
        value_category=data.value_category,
        milestone_id=data.milestone_id,
        position=await repository.next_position(session, user.id, goal.id),
        source=MissionSource.manual,
    )
    [mission] = await repository.insert_missions(session, [row])
    return mission


async def update_mission(
    session: AsyncSession, user: User, mission_id: uuid.UUID, changes: MissionUpdate, now: datetime
) -> Mission:
    mission = await lock_mission(session, user.id, mission_id)
    if mission.status in CLOSED_STATUSES:
        raise Conflict(f"a {mission.status} mission cannot be changed", code="mission_closed")
    data = changes.model_dump(exclude_unset=True)
    if data.pop("status", None) == MissionStatus.pending and mission.status != MissionStatus.pending:
        mission.status = next_status(mission.status, "reactivate")
        mission.deferred_until = None
        await repository.add_event(
            session, user.id, mission.id, MissionEventKind.reactivated, local_date(now, user.timezone), now
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
    mission = await lock_mission(session, user.id, mission_id)
    target = next_status(mission.status, "start")
    goal = await goals.get_goal(session, user.id, mission.goal_id)
    if goal is None or goal.status != GoalStatus.active:
        status = goal.status if goal else "missing"
        raise Conflict(f"the goal is {status}: resume it to start its missions", code="goal_not_active")
    mission.status = target
    mission.deferred_until = None
    row = await repository.insert_session(
        session, {"user_id": user.id, "mission_id": mission.id, "started_at": now}
    )
    await repository.add_event(
        session, user.id, mission.id, MissionEventKind.started, local_date(now, user.timezone), now
    )
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
    outcome: SessionOutcome,
    *,
    notes: str | None = None,
    reflection: str | None = None,
    mood: Mood | None = None,
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
    mission = await lock_mission(session, user.id, mission_id)
    mission.status = next_status(mission.status, "complete")
    day = local_date(now, user.timezone)
    row = await _close_session(
        session,
        mission,
        now,
        SessionOutcome.completed,
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
                "outcome": SessionOutcome.completed,
                "actual_minutes": body.actual_minutes or mission.estimated_minutes,
                "notes": body.notes,
                "reflection": body.reflection,
                "mood": body.mood,
            },
        )
    mission.completed_at = now
    mission.completed_on = day
    await session.flush()
    await repository.add_event(session, user.id, mission.id, MissionEventKind.completed, day, now)
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
        raise invalid_field(
            "until",
            f"must be between {today + timedelta(days=1)} and "
            f"{today + timedelta(days=MAX_DEFER_DAYS)} (your local dates)",
            summary="until must be after today and at most 30 days ahead",
        )
    return requested


async def defer(
    session: AsyncSession, user: User, mission_id: uuid.UUID, body: DeferIn, now: datetime, memory: GoalMemory
) -> ActionOut:
    mission = await lock_mission(session, user.id, mission_id)
    target = next_status(mission.status, "defer")
    today = local_date(now, user.timezone)
    until = _defer_date(body.until, today)
    row = await _close_session(session, mission, now, SessionOutcome.deferred, notes=body.notes)
    mission.status = target
    mission.deferred_until = until
    await session.flush()
    await repository.add_event(session, user.id, mission.id, MissionEventKind.deferred, today, now)
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
    mission = await lock_mission(session, user.id, mission_id)
    target = next_status(mission.status, "abandon")
    row = await _close_session(session, mission, now, SessionOutcome.abandoned, notes=body.notes)
    mission.status = target
    mission.deferred_until = None
    await session.flush()
    await repository.add_event(
        session, user.id, mission.id, MissionEventKind.abandoned, local_date(now, user.timezone), now
    )
    if row is not None:
        await memory.session_notes(session, mission, row)
    await session.refresh(mission)
    return ActionOut(
        mission=MissionOut.model_validate(mission), session=SessionOut.model_validate(row) if row else None
    )


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
