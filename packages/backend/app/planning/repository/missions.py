"""Queries for missions, sessions, mission events and daily triads. Every query is scoped to one user."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    DailyTriad,
    EmotionalState,
    Goal,
    Mission,
    MissionEvent,
    MissionSession,
    Streak,
    User,
)
from app.models.enums import GoalStatus, MissionStatus
from app.planning.rules import ELIGIBLE_STATUSES, OPEN_STATUSES


async def insert_missions(session: AsyncSession, rows: list[dict[str, Any]]) -> list[Mission]:
    items = [Mission(**row) for row in rows]
    session.add_all(items)
    await session.flush()
    for item in items:
        await session.refresh(item)
    return items


async def insert_generated_missions(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Insert generated missions, skipping keys the goal already has (concurrent runs included)."""
    if not rows:
        return 0
    result = await session.execute(
        insert(Mission)
        .values(rows)
        .on_conflict_do_nothing(index_elements=[Mission.goal_id, Mission.generation_key])
        .returning(Mission.id)
    )
    return len(result.all())


async def get_mission(
    session: AsyncSession, user_id: uuid.UUID, mission_id: uuid.UUID, *, for_update: bool = False
) -> Mission | None:
    query = select(Mission).where(Mission.id == mission_id, Mission.user_id == user_id)
    if for_update:  # and reload: a row read earlier in the transaction may have changed since
        query = query.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(query)).scalar_one_or_none()


async def get_missions(
    session: AsyncSession, user_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Mission]:
    if not ids:
        return {}
    rows = await session.execute(select(Mission).where(Mission.user_id == user_id, Mission.id.in_(ids)))
    return {mission.id: mission for mission in rows.scalars()}


async def list_missions(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    goal_id: uuid.UUID | None,
    status: str | None,
    on_date: date | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Mission], int]:
    conditions: list[Any] = [Mission.user_id == user_id]
    if goal_id is not None:
        conditions.append(Mission.goal_id == goal_id)
    if status is not None:
        conditions.append(Mission.status == status)
    if on_date is not None:
        conditions.append(or_(Mission.completed_on == on_date, Mission.deferred_until == on_date))
    total = (await session.execute(select(func.count()).select_from(Mission).where(*conditions))).scalar_one()
    rows = await session.execute(
        select(Mission)
        .where(*conditions)
        .order_by(Mission.created_at, Mission.position, Mission.id)
        .limit(limit)
        .offset(offset)
    )
    return rows.scalars().all(), total


async def archive_open_missions(
    session: AsyncSession, user_id: uuid.UUID, goal_id: uuid.UUID, now: datetime, today: date
) -> int:
    """The goal was archived: its open missions are archived and open sessions closed."""
    archived = await session.execute(
        update(Mission)
        .where(Mission.user_id == user_id, Mission.goal_id == goal_id, Mission.status.in_(OPEN_STATUSES))
        .values(status=MissionStatus.archived, deferred_until=None)
        .returning(Mission.id)
        .execution_options(synchronize_session=False)
    )
    ids = [row[0] for row in archived]
    if ids:
        await session.execute(
            update(MissionSession)
            .where(MissionSession.mission_id.in_(ids), MissionSession.ended_at.is_(None))
            .values(ended_at=now, outcome="abandoned")
            .execution_options(synchronize_session=False)
        )
    return len(ids)


def _due(user_id: uuid.UUID, today: date) -> list[Any]:
    return [
        Mission.user_id == user_id,
        Mission.status == MissionStatus.deferred,
        Mission.deferred_until <= today,
    ]


async def due_goal_ids(session: AsyncSession, user_id: uuid.UUID, today: date) -> set[uuid.UUID]:
    """The goals with deferred missions whose day has come (a plain read: no row is locked)."""
    rows = await session.execute(select(Mission.goal_id).where(*_due(user_id, today)).distinct())
    return set(rows.scalars())


async def reactivate_due(
    session: AsyncSession,
    user_id: uuid.UUID,
    today: date,
    now: datetime,
    goal_ids: Collection[uuid.UUID],
) -> list[uuid.UUID]:
    """Deferred missions of ``goal_ids`` whose day has come are pending again.

    The caller holds those goals' row locks (lock order: goals, then missions).
    """
    if not goal_ids:
        return []
    result = await session.execute(
        update(Mission)
        .where(*_due(user_id, today), Mission.goal_id.in_(goal_ids))
        .values(status=MissionStatus.pending, deferred_until=None)
        .returning(Mission.id)
        .execution_options(synchronize_session=False)
    )
    ids = [row[0] for row in result]
    for mission_id in ids:
        await add_event(session, user_id, mission_id, "reactivated", today, now)
    return ids


async def count_pending(session: AsyncSession, user_id: uuid.UUID, goal_id: uuid.UUID) -> int:
    query = (
        select(func.count())
        .select_from(Mission)
        .where(
            Mission.user_id == user_id, Mission.goal_id == goal_id, Mission.status == MissionStatus.pending
        )
    )
    return (await session.execute(query)).scalar_one()


async def count_missions(session: AsyncSession, user_id: uuid.UUID, goal_id: uuid.UUID) -> int:
    """Every mission of the goal, whatever its status (MAX_MISSIONS_PER_GOAL counts these)."""
    query = (
        select(func.count())
        .select_from(Mission)
        .where(Mission.user_id == user_id, Mission.goal_id == goal_id)
    )
    return (await session.execute(query)).scalar_one()


async def count_generated(session: AsyncSession, user_id: uuid.UUID, goal_id: uuid.UUID) -> int:
    query = (
        select(func.count())
        .select_from(Mission)
        .where(Mission.user_id == user_id, Mission.goal_id == goal_id, Mission.source == "orchestrator")
    )
    return (await session.execute(query)).scalar_one()


async def next_position(session: AsyncSession, user_id: uuid.UUID, goal_id: uuid.UUID) -> int:
    query = select(func.coalesce(func.max(Mission.position), -1) + 1).where(
        Mission.user_id == user_id, Mission.goal_id == goal_id
    )
    return int((await session.execute(query)).scalar_one())


# --- sessions and events ------------------------------------------------------------------


async def open_session(session: AsyncSession, mission_id: uuid.UUID) -> MissionSession | None:
    rows = await session.execute(
        select(MissionSession).where(
            MissionSession.mission_id == mission_id, MissionSession.ended_at.is_(None)
        )
    )
    return rows.scalar_one_or_none()


async def insert_session(session: AsyncSession, values: dict[str, Any]) -> MissionSession:
    row = MissionSession(**values)
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row


async def sessions_of(
    session: AsyncSession, user_id: uuid.UUID, mission_id: uuid.UUID
) -> Sequence[MissionSession]:
    rows = await session.execute(
        select(MissionSession)
        .where(MissionSession.user_id == user_id, MissionSession.mission_id == mission_id)
        .order_by(MissionSession.started_at, MissionSession.id)
    )
    return rows.scalars().all()


async def add_event(
    session: AsyncSession, user_id: uuid.UUID, mission_id: uuid.UUID, kind: str, day: date, now: datetime
) -> None:
    session.add(
        MissionEvent(user_id=user_id, mission_id=mission_id, kind=kind, local_date=day, occurred_at=now)
    )
    await session.flush()


# --- the triad ----------------------------------------------------------------------------


async def triad_candidates(session: AsyncSession, user_id: uuid.UUID) -> Sequence[Row[Mission, Goal]]:
    """Pending and in-progress missions of the user's active goals, with their goal."""
    rows = await session.execute(
        select(Mission, Goal)
        .join(Goal, and_(Goal.id == Mission.goal_id, Goal.user_id == user_id))
        .where(
            Mission.user_id == user_id,
            Mission.status.in_(ELIGIBLE_STATUSES),
            Goal.status == GoalStatus.active,
        )
        .order_by(Mission.created_at, Mission.position, Mission.id)
        .execution_options(populate_existing=True)  # read again after locking: rows may have changed
    )
    return rows.all()


async def completed_categories(session: AsyncSession, user_id: uuid.UUID, day: date) -> Counter[str]:
    rows = await session.execute(
        select(Mission.value_category, func.count())
        .where(
            Mission.user_id == user_id, Mission.completed_on == day, Mission.status == MissionStatus.completed
        )
        .group_by(Mission.value_category)
    )
    return Counter({category: count for category, count in rows})


async def stated_energy(session: AsyncSession, user_id: uuid.UUID, since: datetime) -> str | None:
    """The energy in the companion's latest emotional state, if recent."""
    rows = await session.execute(
        select(EmotionalState.energy).where(
            EmotionalState.user_id == user_id, EmotionalState.updated_at >= since
        )
    )
    return rows.scalar_one_or_none()


async def latest_mood(session: AsyncSession, user_id: uuid.UUID, since: datetime) -> str | None:
    rows = await session.execute(
        select(MissionSession.mood)
        .where(
            MissionSession.user_id == user_id,
            MissionSession.mood.is_not(None),
            MissionSession.ended_at >= since,
        )
        .order_by(MissionSession.ended_at.desc())
        .limit(1)
    )
    return rows.scalar_one_or_none()


async def get_triad(session: AsyncSession, user_id: uuid.UUID, day: date) -> DailyTriad | None:
    rows = await session.execute(
        select(DailyTriad)
        .where(DailyTriad.user_id == user_id, DailyTriad.local_date == day)
        .execution_options(populate_existing=True)
    )
    return rows.scalar_one_or_none()


async def save_triad(
    session: AsyncSession,
    user_id: uuid.UUID,
    day: date,
    *,
    slots: list[dict[str, Any]],
    energy: str,
    energy_source: str,
    now: datetime,
    refresh: bool,
) -> None:
    """Insert the day's triad or replace its selection; ``offered_mission_ids`` accumulates every
    mission offered that day (it may repeat ids)."""
    offered = [slot["mission_id"] for slot in slots]
    statement = insert(DailyTriad).values(
        user_id=user_id,
        local_date=day,
        slots=slots,
        offered_mission_ids=offered,
        energy=energy,
        energy_source=energy_source,
        computed_at=now,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[DailyTriad.user_id, DailyTriad.local_date],
            set_={
                "slots": statement.excluded.slots,
                "offered_mission_ids": DailyTriad.offered_mission_ids.op("||")(
                    statement.excluded.offered_mission_ids
                ),
                "energy": statement.excluded.energy,
                "energy_source": statement.excluded.energy_source,
                "computed_at": statement.excluded.computed_at,
                "refresh_count": DailyTriad.refresh_count + (1 if refresh else 0),
                "updated_at": func.now(),
            },
        )
    )


# --- export -------------------------------------------------------------------------------


async def all_missions(session: AsyncSession, user_id: uuid.UUID) -> Sequence[Mission]:
    rows = await session.execute(
        select(Mission)
        .where(Mission.user_id == user_id)
        .order_by(Mission.created_at, Mission.position, Mission.id)
    )
    return rows.scalars().all()


async def all_sessions(session: AsyncSession, user_id: uuid.UUID) -> Sequence[MissionSession]:
    rows = await session.execute(
        select(MissionSession).where(MissionSession.user_id == user_id).order_by(MissionSession.started_at)
    )
    return rows.scalars().all()


async def all_events(session: AsyncSession, user_id: uuid.UUID) -> Sequence[MissionEvent]:
    rows = await session.execute(
        select(MissionEvent).where(MissionEvent.user_id == user_id).order_by(MissionEvent.occurred_at)
    )
    return rows.scalars().all()


async def all_triads(session: AsyncSession, user_id: uuid.UUID) -> Sequence[DailyTriad]:
    rows = await session.execute(
        select(DailyTriad).where(DailyTriad.user_id == user_id).order_by(DailyTriad.local_date)
    )
    return rows.scalars().all()


# --- the companion's view -----------------------------------------------------------------


async def companion_day(session: AsyncSession, user_id: uuid.UUID, around: date) -> Sequence[Row[Any]]:
    """The user's time zone, overall streak and the stored triads of the days around ``around``
    (the UTC date; the local date is within a day of it): at most three rows."""
    rows = await session.execute(
        select(
            User.timezone,
            Streak.current_length,
            Streak.last_active_on,
            DailyTriad.local_date,
            DailyTriad.slots,
        )
        .select_from(User)
        .outerjoin(Streak, and_(Streak.user_id == User.id, Streak.category == "overall"))
        .outerjoin(
            DailyTriad,
            and_(
                DailyTriad.user_id == User.id,
                DailyTriad.local_date.between(around - timedelta(days=1), around + timedelta(days=1)),
            ),
        )
        .where(User.id == user_id)
    )
    return rows.all()


async def companion_missions(
    session: AsyncSession, user_id: uuid.UUID, limit: int = 100
) -> Sequence[Row[Goal, Mission]]:
    """The user's active goals (most important first), each with its pending and in-progress
    missions (highest last priority first); a goal without open missions has one row with None."""
    rows = await session.execute(
        select(Goal, Mission)
        .outerjoin(
            Mission,
            and_(
                Mission.goal_id == Goal.id,
                Mission.user_id == user_id,
                Mission.status.in_(ELIGIBLE_STATUSES),
            ),
        )
        .where(Goal.user_id == user_id, Goal.status == GoalStatus.active)
        .order_by(
            Goal.importance.desc(),
            Goal.created_at,
            Goal.id,
            Mission.priority_score.desc().nulls_last(),
            Mission.created_at,
            Mission.position,
        )
        .limit(limit)
    )
    return rows.all()
