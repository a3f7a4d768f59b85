"""Goals: create, change, archive (with their project memory), and the goals export section."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound, invalid_field
from app.kit.clock import local_date
from app.models import Goal, User
from app.models.enums import GoalStatus
from app.planning.locks import check_goal_room
from app.planning.memory import GoalMemory
from app.planning.repository import goals as repository
from app.planning.repository import missions
from app.planning.rules import check_goal_transition
from app.planning.schemas.goals import GoalCreate, GoalDetailOut, GoalOut, GoalUpdate, MilestoneOut
from app.users import export_section

MAX_TARGET_YEARS = 10


def _check_target_date(target: date | None, today: date) -> None:
    if target is None:
        return
    if target < today:
        raise invalid_field(
            "target_date", f"must be on or after {today.isoformat()}", summary="target_date is in the past"
        )
    if target > today + timedelta(days=366 * MAX_TARGET_YEARS):
        raise invalid_field(
            "target_date", f"must be within {MAX_TARGET_YEARS} years", summary="target_date is too far away"
        )


async def get_goal(
    session: AsyncSession, user: User, goal_id: uuid.UUID, *, for_update: bool = False
) -> Goal:
    goal = await repository.get_goal(session, user.id, goal_id, for_update=for_update)
    if goal is None:
        raise NotFound("Goal not found")
    return goal


async def create_goal(
    session: AsyncSession, user: User, data: GoalCreate, now: datetime, memory: GoalMemory, max_goals: int
) -> Goal:
    _check_target_date(data.target_date, local_date(now, user.timezone))
    await check_goal_room(session, user.id, max_goals)
    goal = await repository.insert_goal(session, user.id, data.model_dump(), now)
    await memory.goal_saved(session, goal)
    return goal


async def detail(session: AsyncSession, user: User, goal: Goal) -> GoalDetailOut:
    milestones = await repository.milestones(session, user.id, goal.id)
    return GoalDetailOut(
        **GoalOut.model_validate(goal).model_dump(),
        milestones=[MilestoneOut.model_validate(row) for row in milestones],
        mission_counts=await repository.mission_counts(session, user.id, goal.id),
    )


async def update_goal(
    session: AsyncSession,
    user: User,
    goal_id: uuid.UUID,
    changes: GoalUpdate,
    now: datetime,
    memory: GoalMemory,
) -> Goal:
    goal = await get_goal(session, user, goal_id, for_update=True)
    data = changes.model_dump(exclude_unset=True)
    if "target_date" in data and data["target_date"] != goal.target_date:
        _check_target_date(data["target_date"], local_date(now, user.timezone))
    status = data.pop("status", goal.status)
    for field, value in data.items():
        setattr(goal, field, value)
    if status != goal.status:
        await _change_status(session, user, goal, status, now, memory)
        return goal
    await session.flush()
    await session.refresh(goal)
    if goal.status != GoalStatus.archived:
        await memory.goal_saved(session, goal)
    return goal


async def archive_goal(
    session: AsyncSession, user: User, goal_id: uuid.UUID, now: datetime, memory: GoalMemory
) -> None:
    """DELETE: archive the goal (idempotent), its open missions and its project memories."""
    goal = await get_goal(session, user, goal_id, for_update=True)
    if goal.status != GoalStatus.archived:
        await _change_status(session, user, goal, GoalStatus.archived, now, memory)


async def _change_status(
    session: AsyncSession, user: User, goal: Goal, status: GoalStatus, now: datetime, memory: GoalMemory
) -> None:
    previous = goal.status
    check_goal_transition(previous, status)
    goal.status = status
    goal.completed_at = now if status == GoalStatus.completed else None
    goal.archived_at = now if status == GoalStatus.archived else None
    if status == GoalStatus.archived:
        await missions.archive_open_missions(session, user.id, goal.id, now, local_date(now, user.timezone))
    await session.flush()
    await session.refresh(goal)
    if status == GoalStatus.archived:
        await memory.goal_archived(session, goal)
    elif previous == GoalStatus.archived:
        await memory.goal_restored(session, goal)
    else:
        await memory.goal_saved(session, goal)


@export_section("goals")
async def _export_goals(session: AsyncSession, user_id: Any) -> dict[str, Any]:
    goals = await repository.all_goals(session, user_id)
    milestones = await repository.all_milestones(session, user_id)
    proposals = await repository.all_proposals(session, user_id)
    return {
        "goals": [GoalOut.model_validate(goal).model_dump(mode="json") for goal in goals],
        "milestones": [MilestoneOut.model_validate(row).model_dump(mode="json") for row in milestones],
        "decomposition_proposals": [
            {
                "id": str(row.id),
                "goal_id": str(row.goal_id),
                "status": row.status,
                "source": row.source,
                "model": row.model,
                "plan": row.payload,
                "created_at": row.created_at.isoformat(),
                "expires_at": row.expires_at.isoformat(),
                "decided_at": row.decided_at.isoformat() if row.decided_at else None,
            }
            for row in proposals
        ],
    }
