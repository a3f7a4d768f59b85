"""The planning lock order, in one place.

Every transaction that changes planning data takes row locks in this order: goal rows first (when
several, all at once in id order: ``lock_goals``), then mission rows, then streak rows. Archiving
a goal locks the goal and then its open missions; completing a mission touches its goal
(``last_worked_at``) and then the streaks; the triad, approvals and the nightly run lock goals
first too. Taking them in any other order would let two requests wait on each other: a PostgreSQL
deadlock, one of them aborted (docs/goals.md, "Lock order").
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, LimitReached, NotFound
from app.kit.locking import advisory_xact_lock
from app.models import Goal, Mission
from app.planning.repository import goals, missions
from app.planning.rules import OPEN_GOAL_STATUSES

lock_goals = goals.lock_goals


async def open_goal(
    session: AsyncSession, user_id: uuid.UUID, goal_id: uuid.UUID, *, for_update: bool = True
) -> Goal:
    """The goal if it can still get missions (active or paused): 404, or 409 ``goal_not_open``.

    Locked by default, so a goal being archived meanwhile cannot get a new open mission after its
    archival: the archival finishes first and the goal is then read archived.
    """
    goal = await goals.get_goal(session, user_id, goal_id, for_update=for_update)
    if goal is None:
        raise NotFound("Goal not found")
    if goal.status not in OPEN_GOAL_STATUSES:
        raise Conflict(f"the goal is {goal.status}", code="goal_not_open", details={"status": goal.status})
    return goal


async def lock_mission(session: AsyncSession, user_id: uuid.UUID, mission_id: uuid.UUID) -> Mission:
    """The mission, locked for a change, after its goal's row (404 if it is not the user's).

    The goal of a mission never changes, so reading it without a lock first is safe; the mission is
    then reloaded under its lock.
    """
    mission = await missions.get_mission(session, user_id, mission_id)
    if mission is None:
        raise NotFound("Mission not found")
    await goals.get_goal(session, user_id, mission.goal_id, for_update=True)
    locked = await missions.get_mission(session, user_id, mission_id, for_update=True)
    if locked is None:
        raise NotFound("Mission not found")
    return locked


async def check_goal_room(session: AsyncSession, user_id: uuid.UUID, limit: int) -> None:
    """409 ``limit_reached`` when the user has ``limit`` goals. Serialised per user (a transaction
    advisory lock), so concurrent creations cannot overshoot it."""
    await advisory_xact_lock(session, f"goals:{user_id}")
    if await goals.count_goals(session, user_id) >= limit:
        raise LimitReached("goals", limit, f"Limit reached: at most {limit} goals (archived ones count)")


async def check_mission_room(session: AsyncSession, goal: Goal, adding: int, limit: int) -> None:
    """409 ``limit_reached`` unless ``adding`` more missions fit in the goal's ``limit``. Call with the
    goal's row locked (``open_goal``): concurrent additions then take turns."""
    if await missions.count_missions(session, goal.user_id, goal.id) + adding > limit:
        raise LimitReached("missions per goal", limit)
