"""Queries for goals, milestones and decomposition proposals. Every query is scoped to one user."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import DecompositionProposal, Goal, GoalMilestone, Mission
from app.models.enums import GoalStatus, MissionStatus
from app.planning.rules import OPEN_STATUSES


async def insert_goal(
    session: AsyncSession, user_id: uuid.UUID, values: dict[str, Any], now: datetime
) -> Goal:
    # created_at is the domain clock's "now": urgency and the nightly run's first day count from it.
    goal = Goal(user_id=user_id, created_at=now, updated_at=now, **values)
    session.add(goal)
    await session.flush()
    await session.refresh(goal)
    return goal


async def count_goals(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Every goal of the user, archived ones included (MAX_GOALS_PER_USER counts these)."""
    return (await session.execute(select(func.count()).where(Goal.user_id == user_id))).scalar_one()


async def get_goal(
    session: AsyncSession, user_id: uuid.UUID, goal_id: uuid.UUID, *, for_update: bool = False
) -> Goal | None:
    query = select(Goal).where(Goal.id == goal_id, Goal.user_id == user_id)
    if for_update:  # and reload: a row read earlier in the transaction may have changed since
        query = query.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(query)).scalar_one_or_none()


async def lock_goals(
    session: AsyncSession, user_id: uuid.UUID, goal_ids: Collection[uuid.UUID]
) -> list[uuid.UUID]:
    """Lock several goals' rows (``FOR UPDATE``) in id order, in one statement; returns the ids locked.

    Every path that locks more than one goal takes them in this order, so two such transactions
    queue instead of deadlocking. The rows are reloaded: a goal read earlier may have changed.
    """
    if not goal_ids:
        return []
    rows = await session.execute(
        select(Goal)
        .where(Goal.user_id == user_id, Goal.id.in_(goal_ids))
        .order_by(Goal.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return [goal.id for goal in rows.scalars()]


async def list_goals(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    status: str | None,
    include_archived: bool,
    limit: int,
    offset: int,
) -> tuple[Sequence[Goal], int]:
    conditions: list[Any] = [Goal.user_id == user_id]
    if status is not None:
        conditions.append(Goal.status == status)
    elif not include_archived:
        conditions.append(Goal.status != GoalStatus.archived)
    total = (await session.execute(select(func.count()).select_from(Goal).where(*conditions))).scalar_one()
    rows = await session.execute(
        select(Goal).where(*conditions).order_by(Goal.created_at.desc(), Goal.id).limit(limit).offset(offset)
    )
    return rows.scalars().all(), total


async def active_goals(session: AsyncSession, user_id: uuid.UUID) -> Sequence[Goal]:
    rows = await session.execute(
        select(Goal)
        .where(Goal.user_id == user_id, Goal.status == GoalStatus.active)
        .order_by(Goal.created_at, Goal.id)
    )
    return rows.scalars().all()


async def touch_goal(session: AsyncSession, user_id: uuid.UUID, goal_id: uuid.UUID, now: datetime) -> None:
    """Record that the user worked on the goal (the triad's "time since last worked on")."""
    await session.execute(
        update(Goal).where(Goal.id == goal_id, Goal.user_id == user_id).values(last_worked_at=now)
    )


async def milestones(
    session: AsyncSession, user_id: uuid.UUID, goal_id: uuid.UUID
) -> Sequence[GoalMilestone]:
    rows = await session.execute(
        select(GoalMilestone)
        .where(GoalMilestone.user_id == user_id, GoalMilestone.goal_id == goal_id)
        .order_by(GoalMilestone.created_at, GoalMilestone.position)
    )
    return rows.scalars().all()


async def get_milestone(
    session: AsyncSession, user_id: uuid.UUID, milestone_id: uuid.UUID
) -> GoalMilestone | None:
    rows = await session.execute(
        select(GoalMilestone).where(GoalMilestone.id == milestone_id, GoalMilestone.user_id == user_id)
    )
    return rows.scalar_one_or_none()


async def insert_milestones(session: AsyncSession, rows: list[dict[str, Any]]) -> list[GoalMilestone]:
    items = [GoalMilestone(**row) for row in rows]
    session.add_all(items)
    await session.flush()
    for item in items:
        await session.refresh(item)
    return items


async def mark_milestone_reached(
    session: AsyncSession, user_id: uuid.UUID, milestone_id: uuid.UUID, now: datetime
) -> GoalMilestone | None:
    """Mark the milestone reached if all its missions are done; returns it only the first time.

    Done means completed or archived, with at least one completed. The conditional UPDATE makes
    the report happen once even when two completions race.
    """
    open_missions = (
        select(func.count())
        .select_from(Mission)
        .where(Mission.milestone_id == milestone_id, Mission.status.in_(OPEN_STATUSES))
        .scalar_subquery()
    )
    completed = (
        select(func.count())
        .select_from(Mission)
        .where(Mission.milestone_id == milestone_id, Mission.status == MissionStatus.completed)
        .scalar_subquery()
    )
    result = await session.execute(
        update(GoalMilestone)
        .where(
            GoalMilestone.id == milestone_id,
            GoalMilestone.user_id == user_id,
            GoalMilestone.reached_at.is_(None),
            open_missions == 0,
            completed > 0,
        )
        .values(reached_at=now)
        .returning(GoalMilestone)
    )
    return result.scalar_one_or_none()


async def mission_counts(session: AsyncSession, user_id: uuid.UUID, goal_id: uuid.UUID) -> dict[str, int]:
    rows = await session.execute(
        select(Mission.status, func.count())
        .where(Mission.user_id == user_id, Mission.goal_id == goal_id)
        .group_by(Mission.status)
    )
    counts: dict[str, int] = dict.fromkeys(MissionStatus, 0)
    counts.update({status: count for status, count in rows})
    return counts


# --- proposals ----------------------------------------------------------------------------


async def insert_proposal(session: AsyncSession, values: dict[str, Any]) -> DecompositionProposal:
    proposal = DecompositionProposal(**values)
    session.add(proposal)
    await session.flush()
    await session.refresh(proposal)
    return proposal


async def supersede_proposals(
    session: AsyncSession, user_id: uuid.UUID, goal_id: uuid.UUID, now: datetime
) -> None:
    """A new proposal replaces the goal's open ones: they expire."""
    await session.execute(
        update(DecompositionProposal)
        .where(
            DecompositionProposal.user_id == user_id,
            DecompositionProposal.goal_id == goal_id,
            DecompositionProposal.status == "proposed",
        )
        .values(status="expired", decided_at=now)
    )


async def get_proposal(
    session: AsyncSession, user_id: uuid.UUID, goal_id: uuid.UUID, proposal_id: uuid.UUID
) -> DecompositionProposal | None:
    rows = await session.execute(
        select(DecompositionProposal).where(
            DecompositionProposal.id == proposal_id,
            DecompositionProposal.goal_id == goal_id,
            DecompositionProposal.user_id == user_id,
        )
    )
    return rows.scalar_one_or_none()


async def decide_proposal(
    session: AsyncSession,
    user_id: uuid.UUID,
    goal_id: uuid.UUID,
    proposal_id: uuid.UUID,
    status: str,
    now: datetime,
) -> DecompositionProposal | None:
    """Move an open, unexpired proposal to ``status``; ``None`` if it was not open.

    A conditional UPDATE: of two concurrent approvals, the second waits for the first's row lock,
    then finds the status changed and updates nothing. That is what makes approval once-only.
    """
    result = await session.execute(
        update(DecompositionProposal)
        .where(
            DecompositionProposal.id == proposal_id,
            DecompositionProposal.goal_id == goal_id,
            DecompositionProposal.user_id == user_id,
            DecompositionProposal.status == "proposed",
            DecompositionProposal.expires_at > now,
        )
        .values(status=status, decided_at=now)
        .returning(DecompositionProposal)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


# --- export -------------------------------------------------------------------------------


async def all_goals(session: AsyncSession, user_id: uuid.UUID) -> Sequence[Goal]:
    rows = await session.execute(
        select(Goal).where(Goal.user_id == user_id).order_by(Goal.created_at, Goal.id)
    )
    return rows.scalars().all()


async def all_milestones(session: AsyncSession, user_id: uuid.UUID) -> Sequence[GoalMilestone]:
    rows = await session.execute(
        select(GoalMilestone)
        .where(GoalMilestone.user_id == user_id)
        .order_by(GoalMilestone.created_at, GoalMilestone.position)
    )
    return rows.scalars().all()


async def all_proposals(session: AsyncSession, user_id: uuid.UUID) -> Sequence[DecompositionProposal]:
    rows = await session.execute(
        select(DecompositionProposal)
        .where(DecompositionProposal.user_id == user_id)
        .order_by(DecompositionProposal.created_at, DecompositionProposal.id)
    )
    return rows.scalars().all()
