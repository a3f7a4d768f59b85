"""Streaks: consecutive local days with at least one completed mission, overall and per category.

A day belongs to the user's time zone at the moment of completion (``missions.completed_on``).
Completing on the day after the last active day extends the streak; completing later starts a
new one at 1; more completions on an active day change nothing. ``current_length`` as stored is
the length of the latest run; read through ``current`` it is 0 once a whole local day has passed
without a completion (the nightly job also writes that 0 down). Milestones (7, 14, 30, 100, 365
days) are reported once per run: by the completion that reaches them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Streak
from app.planning.repository import progress as repository

MILESTONES: Final = (7, 14, 30, 100, 365)
OVERALL: Final = "overall"


@dataclass(frozen=True)
class StreakMilestone:
    category: str
    days: int


def current(row: Streak | None, today: date) -> int:
    """The streak as of ``today``: still alive if the last active day is today or yesterday."""
    if row is None or row.last_active_on is None:
        return 0
    return row.current_length if row.last_active_on >= today - timedelta(days=1) else 0


def advance(row: Streak, day: date) -> StreakMilestone | None:
    """Count ``day`` as active for ``row``; the milestone this reaches, if any (once per run)."""
    last = row.last_active_on
    if last is not None and last >= day:
        return None  # already counted (or a day before the last one, after a time-zone change)
    if last is not None and last == day - timedelta(days=1):
        row.current_length += 1
    else:
        row.current_length = 1
        row.milestones_reported = []
    row.last_active_on = day
    row.longest_length = max(row.longest_length, row.current_length)
    if row.current_length in MILESTONES and row.current_length not in row.milestones_reported:
        row.milestones_reported = [*row.milestones_reported, row.current_length]
        return StreakMilestone(row.category, row.current_length)
    return None


async def record_completion(
    session: AsyncSession, user_id: uuid.UUID, category: str, day: date
) -> tuple[dict[str, Streak], list[StreakMilestone]]:
    """Advance the overall and the category streak for a completion on local ``day``."""
    rows = await repository.lock_streaks(session, user_id, [OVERALL, category])
    reached = [
        milestone for name in (OVERALL, category) if (milestone := advance(rows[name], day)) is not None
    ]
    await session.flush()
    return rows, reached


def run_length(days: set[date], end: date, *, alive_from_yesterday: bool) -> int:
    """Consecutive active days ending at ``end`` (or, if allowed and ``end`` is not active yet,
    ending the day before)."""
    cursor = end
    if cursor not in days and alive_from_yesterday:
        cursor -= timedelta(days=1)
    length = 0
    while cursor in days:
        length += 1
        cursor -= timedelta(days=1)
    return length
