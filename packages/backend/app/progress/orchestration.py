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

from app.goals import repository as goals
from app.kit.clock import local_date
from app.missions import service as missions
from app.models import User
from app.progress import repository
from app.progress import service as progress


@dataclass
class NightlyResult:
    user_id: str
    today: date
    reactivated: int = 0
    streaks_reset: int = 0
    snapshots: list[str] = field(default_factory=list)
    missions_added: int = 0


async def run_nightly(
    session: AsyncSession, user_id: uuid.UUID, now: datetime, pending_target: int
) -> NightlyResult | None:
    """The nightly steps for one user (in the caller's transaction); ``None`` if the user is gone."""
    user = await session.get(User, user_id)
    if user is None:
        return None
    today = local_date(now, user.timezone)
    result = NightlyResult(user_id=str(user.id), today=today)
    # Lock order (docs/goals.md): every goal this run writes missions of — active goals (top-up)
    # and goals with due deferred missions (reactivation) — is locked first, all at once, in id order.
    due = await missions.due_goal_ids(session, user, today)
    active = {goal.id for goal in await goals.active_goals(session, user.id)}
    locked = set(await goals.lock_goals(session, user.id, due | active))
    result.reactivated = await missions.reactivate_due(session, user, today, now, locked)
    for goal in await goals.active_goals(session, user.id):
        if goal.id in locked:  # a goal activated since is topped up by the next run
            result.missions_added += await missions.top_up_goal(session, goal, pending_target)
    result.streaks_reset = await repository.expire_streaks(session, user.id, today)
    result.snapshots = [day.isoformat() for day in await progress.snapshot_missing_days(session, user, today)]
    return result
