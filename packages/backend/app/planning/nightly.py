"""The nightly run for one user, at the start of their local day.

1. deferred missions whose day has come are pending again;
2. every active goal is topped up to ``MISSIONS_PENDING_TARGET`` pending missions;
3. streaks with no completion yesterday are reset (current length 0);
4. every finished local day of the last week without a snapshot gets one (daily progress + DCI).

Idempotent: each step converges: reactivation and streak resets are conditional updates,
snapshots are unique per (user_id, local_date) and written with ON CONFLICT, and the top-up locks
the goal's row and keys generated missions per goal (unique (goal_id, generation_key), ON CONFLICT
DO NOTHING). Locks are taken in the order requests take them (docs/goals.md, "Lock order"): the
goals whose missions the run writes, all at once in id order, then missions, then streaks; so a
nightly run cannot deadlock with a completing request, an archival or a triad computation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import local_date
from app.models import Goal, User
from app.models.enums import MissionSource
from app.planning import progress
from app.planning.locks import lock_goals
from app.planning.planner import GoalBrief, continuation
from app.planning.repository import goals, missions
from app.planning.repository import progress as repository
from app.planning.rules import mission_row


@dataclass
class NightlyResult:
    user_id: str
    today: date
    reactivated: int = 0
    streaks_reset: int = 0
    snapshots: list[str] = field(default_factory=list)
    missions_added: int = 0


async def run_nightly(
    session: AsyncSession, user_id: uuid.UUID, now: datetime, pending_target: int, max_missions: int
) -> NightlyResult | None:
    """The nightly steps for one user (in the caller's transaction); ``None`` if the user is gone."""
    user = await session.get(User, user_id)
    if user is None:
        return None
    today = local_date(now, user.timezone)
    result = NightlyResult(user_id=str(user.id), today=today)
    # Lock order (docs/goals.md): every goal this run writes missions of — active goals (top-up)
    # and goals with due deferred missions (reactivation) — is locked first, all at once, in id order.
    due = await missions.due_goal_ids(session, user.id, today)
    active = {goal.id for goal in await goals.active_goals(session, user.id)}
    locked = set(await lock_goals(session, user.id, due | active))
    result.reactivated = len(await missions.reactivate_due(session, user.id, today, now, locked))
    for goal in await goals.active_goals(session, user.id):
        if goal.id in locked:  # a goal activated since is topped up by the next run
            result.missions_added += await top_up_goal(session, goal, pending_target, max_missions)
    result.streaks_reset = await repository.expire_streaks(session, user.id, today)
    result.snapshots = [
        day.isoformat() for day in await progress.snapshot_missing_days(session, user, today, now)
    ]
    return result


def brief_of(goal: Goal) -> GoalBrief:
    return GoalBrief(
        title=goal.title,
        description=goal.description,
        goal_type=goal.goal_type,
        value_category=goal.value_category,
        importance=goal.importance,
        target_date=goal.target_date,
    )


async def top_up_goal(session: AsyncSession, goal: Goal, target: int, max_missions: int) -> int:
    """Generate missions until the goal has ``target`` pending ones; returns how many were added.

    The goal's row is locked first, so concurrent top-ups of one goal take turns and the second
    counts what the first added. Generated missions are also keyed ``topup-<n>`` (n counts the
    goal's generated missions) under a unique (goal_id, generation_key) constraint: a duplicate
    is never stored even if the lock were bypassed. The goal never gets more than ``max_missions``.
    """
    if await goals.get_goal(session, goal.user_id, goal.id, for_update=True) is None:
        return 0
    need = target - await missions.count_pending(session, goal.user_id, goal.id)
    # Never past MAX_MISSIONS_PER_GOAL: a goal that reached it gets no more generated missions.
    need = min(need, max_missions - await missions.count_missions(session, goal.user_id, goal.id))
    if need <= 0:
        return 0
    first = await missions.count_generated(session, goal.user_id, goal.id)
    position = await missions.next_position(session, goal.user_id, goal.id)
    brief = brief_of(goal)
    rows = []
    for offset in range(need):
        draft = continuation(brief, first + offset)
        rows.append(
            mission_row(
                goal,
                title=draft.title,
                description=draft.description,
                estimated_minutes=draft.estimated_minutes,
                energy_level=draft.energy_level,
                position=position + offset,
                source=MissionSource.orchestrator,
                generation_key=f"topup-{first + offset}",
            )
        )
    return await missions.insert_generated_missions(session, rows)
