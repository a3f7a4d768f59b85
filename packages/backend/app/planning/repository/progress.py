"""Queries for streaks, Essence, daily snapshots and the activity behind the DCI."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    DateTime,
    cast,
    distinct,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    DailyProgress,
    EssenceTransaction,
    Goal,
    Mission,
    MissionEvent,
    MissionSession,
    Streak,
    User,
)
from app.models.enums import MissionStatus, SessionOutcome

# Event kinds that count as the user doing something with their missions on a day.
ACTIVITY_KINDS = ("started", "completed", "deferred", "abandoned")


# --- streaks ------------------------------------------------------------------------------


async def lock_streaks(
    session: AsyncSession, user_id: uuid.UUID, categories: Sequence[str]
) -> dict[str, Streak]:
    """The user's streak rows for ``categories``, created if missing and locked for this transaction."""
    await session.execute(
        insert(Streak)
        .values([{"user_id": user_id, "category": category} for category in categories])
        .on_conflict_do_nothing(index_elements=[Streak.user_id, Streak.category])
    )
    rows = await session.execute(
        select(Streak)
        .where(Streak.user_id == user_id, Streak.category.in_(categories))
        .order_by(Streak.category)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {row.category: row for row in rows.scalars()}


async def streaks_of(session: AsyncSession, user_id: uuid.UUID) -> Sequence[Streak]:
    rows = await session.execute(select(Streak).where(Streak.user_id == user_id).order_by(Streak.category))
    return rows.scalars().all()


async def expire_streaks(session: AsyncSession, user_id: uuid.UUID, today: date) -> int:
    """Streaks whose last active day is before yesterday are broken: current length 0."""
    result = await session.execute(
        update(Streak)
        .where(
            Streak.user_id == user_id,
            Streak.current_length > 0,
            or_(Streak.last_active_on.is_(None), Streak.last_active_on < today - timedelta(days=1)),
        )
        .values(current_length=0, milestones_reported=[])
        .returning(Streak.id)
        .execution_options(synchronize_session=False)
    )
    return len(result.all())


async def first_goal_at(session: AsyncSession, user_id: uuid.UUID) -> datetime | None:
    result = await session.execute(select(func.min(Goal.created_at)).where(Goal.user_id == user_id))
    return result.scalar_one_or_none()


async def completion_dates(session: AsyncSession, user_id: uuid.UUID, first: date, last: date) -> set[date]:
    """Local days between ``first`` and ``last`` on which at least one mission was completed."""
    rows = await session.execute(
        select(Mission.completed_on)
        .distinct()
        .where(
            Mission.user_id == user_id,
            Mission.status == MissionStatus.completed,
            Mission.completed_on.between(first, last),
        )
    )
    return {day for (day,) in rows if day is not None}


# --- Essence ------------------------------------------------------------------------------


async def add_essence(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    amount: int,
    reason: str,
    day: date,
    mission_id: uuid.UUID | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Record an award and add it to the user's balance; returns the new balance."""
    session.add(
        EssenceTransaction(
            user_id=user_id,
            amount=amount,
            reason=reason,
            local_date=day,
            mission_id=mission_id,
            detail=detail or {},
        )
    )
    await session.flush()
    result = await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(essence_balance=User.essence_balance + amount)
        .returning(User.essence_balance)
        .execution_options(synchronize_session=False)
    )
    return int(result.scalar_one())


async def balance(session: AsyncSession, user_id: uuid.UUID) -> int:
    result = await session.execute(select(User.essence_balance).where(User.id == user_id))
    return int(result.scalar_one_or_none() or 0)


async def essence_between(session: AsyncSession, user_id: uuid.UUID, first: date, last: date) -> int:
    result = await session.execute(
        select(func.coalesce(func.sum(EssenceTransaction.amount), 0)).where(
            EssenceTransaction.user_id == user_id, EssenceTransaction.local_date.between(first, last)
        )
    )
    return int(result.scalar_one())


# --- activity -----------------------------------------------------------------------------


async def completed_on_day(session: AsyncSession, user_id: uuid.UUID, day: date) -> list[tuple[str, int]]:
    """(value category, minutes) of each mission completed on local ``day``; minutes are the
    session's actual minutes, else the estimate."""
    rows = await session.execute(
        select(
            Mission.value_category, func.coalesce(MissionSession.actual_minutes, Mission.estimated_minutes)
        )
        .select_from(Mission)
        .outerjoin(
            MissionSession,
            (MissionSession.mission_id == Mission.id) & (MissionSession.outcome == SessionOutcome.completed),
        )
        .where(
            Mission.user_id == user_id, Mission.status == MissionStatus.completed, Mission.completed_on == day
        )
    )
    return [(category, int(minutes)) for category, minutes in rows]


async def event_counts(session: AsyncSession, user_id: uuid.UUID, first: date, last: date) -> Counter[str]:
    rows = await session.execute(
        select(MissionEvent.kind, func.count())
        .where(MissionEvent.user_id == user_id, MissionEvent.local_date.between(first, last))
        .group_by(MissionEvent.kind)
    )
    return Counter({kind: count for kind, count in rows})


async def active_days(session: AsyncSession, user_id: uuid.UUID, last: date) -> int:
    """Distinct local days up to ``last`` with a mission started, completed, deferred or abandoned."""
    result = await session.execute(
        select(func.count(distinct(MissionEvent.local_date))).where(
            MissionEvent.user_id == user_id,
            MissionEvent.kind.in_(ACTIVITY_KINDS),
            MissionEvent.local_date <= last,
        )
    )
    return int(result.scalar_one())


async def completed_sessions(
    session: AsyncSession, user_id: uuid.UUID, first: date, last: date
) -> list[tuple[str | None, str | None, int | None, int]]:
    """(notes, reflection, actual minutes, estimated minutes) of sessions that completed a mission
    on a local day in ``[first, last]``."""
    rows = await session.execute(
        select(
            MissionSession.notes,
            MissionSession.reflection,
            MissionSession.actual_minutes,
            Mission.estimated_minutes,
        )
        .join(Mission, Mission.id == MissionSession.mission_id)
        .where(
            MissionSession.user_id == user_id,
            MissionSession.outcome == SessionOutcome.completed,
            Mission.completed_on.between(first, last),
        )
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


# --- snapshots ----------------------------------------------------------------------------


async def upsert_snapshot(session: AsyncSession, values: dict[str, Any]) -> None:
    """One row per user and local day; recomputing a day overwrites it with the same numbers."""
    statement = insert(DailyProgress).values(**values)
    changes = {key: statement.excluded[key] for key in values if key not in ("user_id", "local_date")}
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[DailyProgress.user_id, DailyProgress.local_date],
            set_={**changes, "updated_at": func.now()},
        )
    )


async def snapshot_dates(session: AsyncSession, user_id: uuid.UUID, first: date, last: date) -> set[date]:
    rows = await session.execute(
        select(DailyProgress.local_date).where(
            DailyProgress.user_id == user_id, DailyProgress.local_date.between(first, last)
        )
    )
    return {day for (day,) in rows}


async def snapshots_between(
    session: AsyncSession, user_id: uuid.UUID, first: date, last: date
) -> Sequence[DailyProgress]:
    rows = await session.execute(
        select(DailyProgress)
        .where(DailyProgress.user_id == user_id, DailyProgress.local_date.between(first, last))
        .order_by(DailyProgress.local_date)
    )
    return rows.scalars().all()


async def get_snapshot(session: AsyncSession, user_id: uuid.UUID, day: date) -> DailyProgress | None:
    rows = await session.execute(
        select(DailyProgress).where(DailyProgress.user_id == user_id, DailyProgress.local_date == day)
    )
    return rows.scalar_one_or_none()


async def users_due(session: AsyncSession, now: datetime, limit: int) -> list[tuple[uuid.UUID, date]]:
    """Users with goals whose local "yesterday" (in their own time zone at ``now``) has no
    snapshot yet, with that date: the nightly run is due for them.

    A zone PostgreSQL does not know (a row written around the API, a zone dropped from a newer
    tz database) would make ``timezone()`` fail the whole query, so the sweep for everyone: such a
    user's day is computed in UTC instead (as ``app.kit.clock.zone`` does)."""
    zones = select(literal_column("name").label("name")).select_from(text("pg_timezone_names")).cte("zones")
    tz = func.coalesce(zones.c.name, "UTC")
    moment = cast(literal(now), DateTime(timezone=True))
    yesterday = cast(func.timezone(tz, moment), Date) - 1
    rows = await session.execute(
        select(User.id, yesterday)
        .outerjoin(zones, zones.c.name == User.timezone)
        .where(
            # Nightly runs start the day after the user's first goal.
            exists().where(
                Goal.user_id == User.id,
                cast(func.timezone(tz, Goal.created_at), Date) <= yesterday,
            ),
            ~exists().where(DailyProgress.user_id == User.id, DailyProgress.local_date == yesterday),
        )
        .order_by(User.id)
        .limit(limit)
    )
    return [(user_id, day) for user_id, day in rows]


# --- export -------------------------------------------------------------------------------


async def all_essence(session: AsyncSession, user_id: uuid.UUID) -> Sequence[EssenceTransaction]:
    rows = await session.execute(
        select(EssenceTransaction)
        .where(EssenceTransaction.user_id == user_id)
        .order_by(EssenceTransaction.created_at, EssenceTransaction.id)
    )
    return rows.scalars().all()


async def all_snapshots(session: AsyncSession, user_id: uuid.UUID) -> Sequence[DailyProgress]:
    rows = await session.execute(
        select(DailyProgress).where(DailyProgress.user_id == user_id).order_by(DailyProgress.local_date)
    )
    return rows.scalars().all()
