"""Progress: Essence awards, streak updates, the daily view, the DCI report and nightly snapshots.

Essence (docs/goals.md): a completed mission earns its ``essence_reward`` (estimated minutes ×
1 / 1.5 / 2 for low / medium / high energy); reaching an overall streak milestone adds a bonus
(7 → 50, 14 → 100, 30 → 250, 100 → 1000, 365 → 5000); completing the last open mission of a goal
milestone adds 25.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import local_date
from app.models import GoalMilestone, Mission, User
from app.planning import dci, streaks
from app.planning.repository import progress as repository
from app.planning.schemas.progress import (
    DailyOut,
    DciOut,
    DciPoint,
    DciTermsOut,
    EssenceAwardOut,
    SnapshotOut,
    StreakMilestoneOut,
    StreakOut,
)
from app.users import export_section

STREAK_BONUS: Final = {7: 50, 14: 100, 30: 250, 100: 1000, 365: 5000}
GOAL_MILESTONE_BONUS: Final = 25
CATEGORIES: Final = ("overall", "health", "craft", "growth", "connection")
# How far back the nightly run fills in snapshots a stopped worker missed.
BACKFILL_DAYS: Final = 7


@dataclass
class CompletionRewards:
    awards: list[EssenceAwardOut] = field(default_factory=list)
    balance: int = 0
    streak_milestones: list[StreakMilestoneOut] = field(default_factory=list)
    streaks: list[StreakOut] = field(default_factory=list)

    @property
    def earned(self) -> int:
        return sum(award.amount for award in self.awards)


async def reward_completion(
    session: AsyncSession, user_id: uuid.UUID, mission: Mission, day: date
) -> CompletionRewards:
    """Essence for the mission, streaks advanced, and the bonus for any overall streak milestone."""
    rewards = CompletionRewards()
    rewards.balance = await repository.add_essence(
        session, user_id, amount=mission.essence_reward, reason="mission", day=day, mission_id=mission.id
    )
    rewards.awards.append(EssenceAwardOut(reason="mission", amount=mission.essence_reward))
    rows, reached = await streaks.record_completion(session, user_id, mission.value_category, day)
    for milestone in reached:
        rewards.streak_milestones.append(StreakMilestoneOut(category=milestone.category, days=milestone.days))
        if milestone.category == streaks.OVERALL:
            detail = {"days": milestone.days}
            bonus = STREAK_BONUS[milestone.days]
            rewards.balance = await repository.add_essence(
                session,
                user_id,
                amount=bonus,
                reason="streak_milestone",
                day=day,
                mission_id=mission.id,
                detail=detail,
            )
            rewards.awards.append(EssenceAwardOut(reason="streak_milestone", amount=bonus, detail=detail))
    rewards.streaks = [_streak_out(rows[name], day) for name in sorted(rows, key=CATEGORIES.index)]
    return rewards


async def reward_goal_milestone(
    session: AsyncSession, user_id: uuid.UUID, milestone: GoalMilestone, mission_id: uuid.UUID, day: date
) -> tuple[EssenceAwardOut, int]:
    detail = {"milestone_id": str(milestone.id), "title": milestone.title}
    balance = await repository.add_essence(
        session,
        user_id,
        amount=GOAL_MILESTONE_BONUS,
        reason="goal_milestone",
        day=day,
        mission_id=mission_id,
        detail=detail,
    )
    return EssenceAwardOut(reason="goal_milestone", amount=GOAL_MILESTONE_BONUS, detail=detail), balance


def _streak_out(row: Any, today: date) -> StreakOut:
    return StreakOut(
        category=row.category,
        current=streaks.current(row, today),
        longest=row.longest_length,
        last_active_on=row.last_active_on,
    )


async def streaks_view(session: AsyncSession, user_id: uuid.UUID, today: date) -> list[StreakOut]:
    rows = {row.category: row for row in await repository.streaks_of(session, user_id)}
    return [
        _streak_out(rows[name], today)
        if name in rows
        else StreakOut(category=name, current=0, longest=0, last_active_on=None)
        for name in CATEGORIES
    ]


async def daily(session: AsyncSession, user: User, now: datetime, day: date | None = None) -> DailyOut:
    today = local_date(now, user.timezone)
    day = day or today
    completed = await repository.completed_on_day(session, user.id, day)
    categories: dict[str, int] = {}
    for category, _ in completed:
        categories[category] = categories.get(category, 0) + 1
    snapshot = await repository.get_snapshot(session, user.id, day)
    return DailyOut(
        date=day,
        timezone=user.timezone,
        missions_completed=len(completed),
        minutes_completed=sum(minutes for _, minutes in completed),
        categories_completed=categories,
        essence_earned=await repository.essence_between(session, user.id, day, day),
        essence_balance=await repository.balance(session, user.id),
        streaks=await streaks_view(session, user.id, today),  # always as of today
        snapshot=SnapshotOut.model_validate(snapshot) if snapshot else None,
    )


async def dci_report(session: AsyncSession, user: User, now: datetime, days: int) -> DciOut:
    today = local_date(now, user.timezone)
    start = today - timedelta(days=days - 1)
    active = await repository.active_days(session, user.id, today)
    base: dict[str, Any] = {
        "days": days,
        "start": start,
        "end": today,
        "active_days": active,
        "required_active_days": dci.MIN_ACTIVE_DAYS,
        "weights": dci.WEIGHTS,
    }
    if active < dci.MIN_ACTIVE_DAYS:
        return DciOut(
            **base,
            available=False,
            dci=None,
            terms=None,
            history=[],
            message=(
                f"The Daily Consistency Index appears after {dci.MIN_ACTIVE_DAYS} days with mission "
                f"activity; so far there {'is' if active == 1 else 'are'} {active}."
            ),
        )
    terms = await dci.compute(session, user.id, today, days, live=True, now=now)
    snapshots = await repository.snapshots_between(session, user.id, start, today)
    return DciOut(
        **base,
        available=True,
        dci=terms.dci,
        terms=DciTermsOut(**{key: value for key, value in terms.as_dict().items() if key != "dci"}),
        history=[DciPoint(date=row.local_date, dci=row.dci) for row in snapshots],
        message=None,
    )


async def snapshot_day(session: AsyncSession, user_id: uuid.UUID, day: date, now: datetime) -> None:
    """Write the snapshot of a finished local day (idempotent: recomputing at the same ``now`` gives
    the same row; later, notes of the day that were answered since count as followed)."""
    completed = await repository.completed_on_day(session, user_id, day)
    terms = await dci.compute(session, user_id, day, dci.SNAPSHOT_WINDOW_DAYS, live=False, now=now)
    await repository.upsert_snapshot(
        session,
        {
            "user_id": user_id,
            "local_date": day,
            "missions_completed": len(completed),
            "minutes_completed": sum(minutes for _, minutes in completed),
            "essence_earned": await repository.essence_between(session, user_id, day, day),
            "streak_length": terms.streak,
            "active_days": await repository.active_days(session, user_id, day),
            "completion_rate": terms.completion_rate,
            "engagement_depth": terms.engagement_depth,
            "nudge_response": terms.nudge_response,
            "dci": terms.dci,
        },
    )


async def snapshot_missing_days(session: AsyncSession, user: User, today: date, now: datetime) -> list[date]:
    """Snapshot every finished day of the last week that has none (none before the first goal)."""
    first_goal = await repository.first_goal_at(session, user.id)
    if first_goal is None:
        return []
    first = max(today - timedelta(days=BACKFILL_DAYS), local_date(first_goal, user.timezone))
    last = today - timedelta(days=1)
    if first > last:
        return []
    present = await repository.snapshot_dates(session, user.id, first, last)
    missing = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    missing = [day for day in missing if day not in present]
    for day in missing:
        await snapshot_day(session, user.id, day, now)
    return missing


@export_section("progress")
async def _export_progress(session: AsyncSession, user_id: Any) -> dict[str, Any]:
    return {
        "essence_balance": await repository.balance(session, user_id),
        "essence_transactions": [
            {
                "id": str(row.id),
                "mission_id": str(row.mission_id) if row.mission_id else None,
                "amount": row.amount,
                "reason": row.reason,
                "detail": row.detail,
                "local_date": row.local_date.isoformat(),
                "created_at": row.created_at.isoformat(),
            }
            for row in await repository.all_essence(session, user_id)
        ],
        "streaks": [
            {
                "category": row.category,
                "current_length": row.current_length,
                "longest_length": row.longest_length,
                "last_active_on": row.last_active_on.isoformat() if row.last_active_on else None,
                "milestones_reported": row.milestones_reported,
            }
            for row in await repository.streaks_of(session, user_id)
        ],
        "daily_snapshots": [
            SnapshotOut.model_validate(row).model_dump(mode="json")
            for row in await repository.all_snapshots(session, user_id)
        ],
    }
